/**
 * Redis for tests: whether the shared server answers, and throwaway servers of our own (one, or a
 * 3-master cluster) on free loopback ports, each in its own temporary folder, stopped by pid.
 */
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { createConnection, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { promisify } from 'node:util';
import { Redis } from 'ioredis';
import { deleteMatching } from '../../src/store/online/redis/redis-shared.ts';

const run = promisify(execFile);

export const REDIS_START_HINT = 'start it with: redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" --appendonly no';

/**
 * Stands in for the tests that need Redis when it cannot run: a skipped test saying what to start,
 * or, in CI (CI=true), a failing one, since there the services are part of the run.
 */
export function testWithoutRedis(title: string, problem: string): void {
  if (process.env['CI'] === 'true') {
    test(title, () => {
      throw new Error(`${problem}. In CI (CI=true) this is a failure, not a skip: the services are part of the run (.ci/run starts them)`);
    });
  } else {
    test(title, { skip: problem }, () => {});
  }
}

/** Sends one inline command and resolves with the first reply line, or rejects within `timeoutMs`. */
export function redisCommand(port: number, command: string, timeoutMs = 1000): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = createConnection({ host: '127.0.0.1', port });
    let data = '';
    const done = (error: Error | undefined, line?: string): void => {
      socket.destroy();
      if (error) reject(error);
      else resolve(line as string);
    };
    socket.setTimeout(timeoutMs, () => done(new Error(`no reply from 127.0.0.1:${port} within ${timeoutMs} ms`)));
    socket.on('error', (e) => done(e));
    socket.on('connect', () => socket.write(`${command}\r\n`));
    socket.on('data', (chunk) => {
      data += chunk.toString('latin1');
      const end = data.indexOf('\r\n');
      if (end >= 0) done(undefined, data.slice(0, end));
    });
  });
}

/** Undefined when Redis answers PING on 127.0.0.1:`port`, else why not. */
export async function redisUnreachable(port = 6379): Promise<string | undefined> {
  try {
    const reply = await redisCommand(port, 'PING');
    return reply === '+PONG' ? undefined : `Redis on 127.0.0.1:${port} answered PING with ${reply}`;
  } catch (e) {
    return `Redis is not reachable on 127.0.0.1:${port} (${(e as Error).message}); ${REDIS_START_HINT}`;
  }
}

/** Undefined when redis-server and redis-cli are installed, else why not. */
export async function redisBinariesMissing(): Promise<string | undefined> {
  try {
    await run('redis-server', ['--version']);
    await run('redis-cli', ['--version']);
    return undefined;
  } catch (e) {
    return `redis-server / redis-cli are not installed (${(e as Error).message}); install the Debian package redis-server`;
  }
}

/** A redis-server of our own. `kill` stops it like a crash; `start` brings it back on the same port. */
export interface TestRedisServer {
  readonly port: number;
  readonly dir: string;
  readonly pid: number | undefined;
  start(): Promise<void>;
  kill(signal?: NodeJS.Signals): Promise<void>;
  /** Kills it and removes its folder. */
  stop(): Promise<void>;
}

// Servers still up when the process exits (a test failed before its `after`) are killed here.
const live = new Set<number>();
process.once('exit', () => {
  for (const pid of live) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      /* already gone */
    }
  }
});

/** Starts redis-server, daemonized, on a free port (or `port`), with its own folder and no persistence. */
export async function startRedisServer(options: { port?: number; cluster?: boolean; dir?: string } = {}): Promise<TestRedisServer> {
  const port = options.port ?? (await freePort(options.cluster === true));
  const dir = options.dir ?? (await mkdtemp(join(tmpdir(), `rs-redis-${port}-`)));
  const pidFile = join(dir, `redis-${port}.pid`);
  let pid: number | undefined;
  const args = [
    '--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--daemonize', 'yes', '--pidfile', pidFile,
    '--logfile', join(dir, `redis-${port}.log`), '--save', '', '--appendonly', 'no',
    ...(options.cluster === true ? ['--cluster-enabled', 'yes', '--cluster-config-file', `nodes-${port}.conf`, '--cluster-node-timeout', '5000'] : []),
  ];
  const server: TestRedisServer = {
    port,
    dir,
    get pid() {
      return pid;
    },
    async start() {
      await rm(pidFile, { force: true });
      await run('redis-server', args);
      pid = await waitFor(`redis-server on port ${port} to start (log: ${dir})`, 5000, async () => {
        const text = await readFile(pidFile, 'utf8').catch(() => '');
        if (text.trim() === '' || (await redisUnreachable(port)) !== undefined) return undefined;
        return Number(text.trim());
      });
      live.add(pid);
    },
    async kill(signal: NodeJS.Signals = 'SIGKILL') {
      if (pid === undefined) return;
      const gone = pid;
      try {
        process.kill(gone, signal);
      } catch {
        /* already gone */
      }
      await waitFor(`redis-server pid ${gone} to exit`, 5000, async () => (alive(gone) ? undefined : true));
      live.delete(gone);
      pid = undefined;
    },
    async stop() {
      await server.kill();
      if (options.dir === undefined) await rm(dir, { recursive: true, force: true });
    },
  };
  await server.start();
  return server;
}

export interface TestRedisCluster {
  /** `redis-cluster://127.0.0.1:P1,127.0.0.1:P2,127.0.0.1:P3` */
  readonly url: string;
  readonly servers: readonly TestRedisServer[];
  stop(): Promise<void>;
}

/**
 * Starts `masters` cluster-enabled servers (and `replicas` per master), joins them with `redis-cli
 * --cluster create`, waits for cluster_state:ok. `servers` lists the masters first. A master that
 * dies is replaced by its replica after the node timeout (5 s).
 */
export async function startRedisCluster(masters = 3, replicas = 0): Promise<TestRedisCluster> {
  const dir = await mkdtemp(join(tmpdir(), 'rs-redis-cluster-'));
  const servers: TestRedisServer[] = [];
  const stop = async (): Promise<void> => {
    await Promise.all(servers.map((s) => s.kill()));
    await rm(dir, { recursive: true, force: true });
  };
  try {
    // One at a time: freePort only knows a port is free until a server takes it.
    for (let i = 0; i < masters * (1 + replicas); i++) servers.push(await startRedisServer({ cluster: true, dir }));
    const nodes = servers.map((s) => `127.0.0.1:${s.port}`);
    // redis-cli makes the first `masters` nodes masters and the rest their replicas.
    await run('redis-cli', ['--cluster', 'create', ...nodes, '--cluster-replicas', String(replicas), '--cluster-yes'], { timeout: 20_000 });
    await waitFor('the cluster to report cluster_state:ok on every node', 10_000, async () => {
      for (const s of servers) {
        const { stdout } = await run('redis-cli', ['-p', String(s.port), 'cluster', 'info']);
        if (!stdout.includes('cluster_state:ok')) return undefined;
      }
      return true;
    });
    // A replica serves a failover only once it has synced; the first sync can take seconds on a loaded machine.
    await waitFor('every replica to finish syncing with its master', 60_000, async () => {
      for (const s of servers.slice(masters)) {
        const { stdout } = await run('redis-cli', ['-p', String(s.port), 'info', 'replication']);
        if (!stdout.includes('master_link_status:up') || stdout.includes('master_sync_in_progress:1')) return undefined;
      }
      return true;
    });
  } catch (e) {
    await stop();
    throw e;
  }
  return { url: `redis-cluster://${servers.map((s) => `127.0.0.1:${s.port}`).join(',')}`, servers, stop };
}

/**
 * Waits until the cluster has replaced a dead master: a surviving node reports cluster_state:ok and
 * no slot served by `deadPort`. Resolves with the milliseconds it took. Redis starts an election
 * about a second after the node timeout (5 s here) and retries a failed one only after four node
 * timeouts (`auth_retry_time` in cluster.c), so one failed election on a loaded machine takes the
 * failover past 25 s: give it a minute.
 */
export async function waitForFailover(servers: readonly TestRedisServer[], deadPort: number, timeoutMs = 60_000): Promise<number> {
  const started = Date.now();
  const survivors = servers.filter((s) => s.port !== deadPort);
  let seen = '';
  try {
    await waitFor(`a replica to take over the slots of the master on port ${deadPort}`, timeoutMs, async () => {
      for (const s of survivors) {
        const info = (await run('redis-cli', ['-p', String(s.port), 'cluster', 'info'])).stdout;
        const nodes = (await run('redis-cli', ['-p', String(s.port), 'cluster', 'nodes'])).stdout;
        seen = `port ${s.port}: ${/cluster_state:\w+/.exec(info)?.[0] ?? 'no state'}\n${nodes}`;
        // A master line: "<id> host:port@bus flags ... connected <slots>"; the dead one may still be listed as a failed master without slots.
        const deadServes = nodes.split('\n').some((l) => l.includes(`:${deadPort}@`) && / master/.test(l) && / (dis)?connected \d/.test(l));
        if (info.includes('cluster_state:ok') && !deadServes) return true;
      }
      return undefined;
    });
  } catch (e) {
    throw new Error(`${(e as Error).message}; the cluster as last seen by ${seen}`);
  }
  return Date.now() - started;
}

/** A free loopback port; for a cluster node, port + 10000 (its cluster bus) is free too. */
async function freePort(withBus: boolean): Promise<number> {
  for (let attempt = 0; attempt < 50; attempt++) {
    const port = withBus ? 20000 + Math.floor(Math.random() * 35000) : await listenAndClose(0);
    if ((await canListen(port)) && (!withBus || (await canListen(port + 10000)))) return port;
  }
  throw new Error('found no free loopback port');
}

async function canListen(port: number): Promise<boolean> {
  try {
    await listenAndClose(port);
    return true;
  } catch {
    return false;
  }
}

function listenAndClose(port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => resolve(typeof address === 'object' && address !== null ? address.port : port));
    });
  });
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  // A daemon is not our child: where nothing reaps orphans (a container's pid 1), a dead one stays a zombie.
  try {
    return !/^\d+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return true;
  }
}

async function waitFor<T>(what: string, timeoutMs: number, probe: () => Promise<T | undefined>): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe().catch(() => undefined);
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

/** Removes the keys under `namespace:` from a shared Redis, or one cluster node (SCAN, not KEYS: others' data stays). */
export async function dropNamespace(url: string, namespace: string): Promise<void> {
  const client = new Redis(url, { lazyConnect: true });
  await client.connect();
  try {
    await deleteMatching(client, `${namespace}:`);
  } finally {
    client.disconnect();
  }
}
