import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';

/**
 * A real redis-server (Debian's `redis-server` package) on a free 127.0.0.1 port, for tests and
 * benches of the BullMQ queue: started and stopped by the caller, its data in a temp folder.
 * `persistent` turns on the append-only file (fsync always), so `restart()` keeps the queue as a
 * production Redis would; without it a restart loses everything, which the queue must survive too.
 */
export type LocalRedis = {
  readonly port: number;
  /** redis://127.0.0.1:<port>/0 */
  readonly url: string;
  /** Stop (SIGTERM: a clean shutdown that writes the append-only file) and start again on the same port. */
  restart(): Promise<void>;
  /** Stop the server, wait for it to exit, remove its folder. */
  stop(): Promise<void>;
};

export type LocalRedisOptions = { persistent?: boolean };

/** Whether redis-server is installed (set-up installs it; a test may skip with this reason otherwise). */
export function redisServerAvailable(): boolean {
  return spawnSync('redis-server', ['--version'], { stdio: 'ignore' }).status === 0;
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const port = (server.address() as net.AddressInfo).port;
      server.close(() => resolve(port));
    });
  });
}

/** Start redis-server and resolve once it logs that it accepts connections. */
function launch(port: number, dir: string, persistent: boolean): Promise<ChildProcess> {
  const args = ['--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--save', '', '--daemonize', 'no', '--protected-mode', 'yes'];
  args.push(...(persistent ? ['--appendonly', 'yes', '--appendfsync', 'always'] : ['--appendonly', 'no']));
  const child = spawn('redis-server', args, { stdio: ['ignore', 'pipe', 'pipe'] });
  return new Promise((resolve, reject) => {
    let output = '';
    const onData = (chunk: Buffer) => {
      output += chunk.toString();
      if (output.includes('Ready to accept connections')) {
        child.stdout!.off('data', onData);
        child.stdout!.resume(); // keep draining, never block the server on a full pipe
        resolve(child);
      }
    };
    child.stdout!.on('data', onData);
    child.stderr!.resume();
    child.once('error', (error) => reject(new Error(`redis-server did not start: ${error.message}; install it (apt-get install redis-server)`)));
    child.once('exit', (code) => reject(new Error(`redis-server exited (code ${code}) before it was ready: ${output.trim().split('\n').slice(-3).join(' | ')}`)));
  });
}

function exited(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => child.once('exit', () => resolve()));
}

export async function startLocalRedis(options: LocalRedisOptions = {}): Promise<LocalRedis> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'candlelab-redis-'));
  const persistent = options.persistent ?? false;
  // The port is free when asked; another process could take it before redis binds, so try a few.
  let port = 0;
  let child: ChildProcess | undefined;
  for (let attempt = 0; attempt < 5 && !child; attempt++) {
    port = await freePort();
    child = await launch(port, dir, persistent).catch((error: Error) => {
      if (attempt === 4) throw error;
      return undefined;
    });
  }
  let current = child!;
  const stopServer = async () => {
    current.kill('SIGTERM');
    await exited(current);
  };
  return {
    port,
    url: `redis://127.0.0.1:${port}/0`,
    async restart() {
      await stopServer();
      current = await launch(port, dir, persistent);
    },
    async stop() {
      await stopServer();
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}
