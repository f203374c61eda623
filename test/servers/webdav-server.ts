// A real HTTP remote cache for tests: Debian's nginx with WebDAV PUT, serving a temporary folder on
// a free 127.0.0.1 port (Bazel's HTTP cache layout is plain GET/PUT of /ac/… and /cas/… paths).
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface WebdavServer {
  url: string;
  /** The folder served: <root>/ac/<key>, <root>/cas/<sha256>. */
  root: string;
  /** Requests seen so far, as "METHOD /path STATUS" lines. */
  requests(): string[];
  stop(): Promise<void>;
}

/** Why nginx cannot be used here, or null when it can. */
export function webdavUnavailable(): string | null {
  const r = spawnSync('nginx', ['-v'], { encoding: 'utf8' });
  return r.error ? 'nginx is not installed (apt-get install nginx-light; .ci/run does)' : null;
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const port = (srv.address() as { port: number }).port;
      srv.close(() => resolve(port));
    });
  });
}

export async function startWebdav(options: { token?: string } = {}): Promise<WebdavServer> {
  const dir = mkdtempSync(join(tmpdir(), 'pipe-webdav-'));
  const root = join(dir, 'root');
  for (const d of [root, join(dir, 'logs'), join(dir, 'tmp')]) mkdirSync(d, { recursive: true });
  const port = await freePort();
  const auth = options.token ? `if ($http_authorization != "Bearer ${options.token}") { return 401; }` : '';
  writeFileSync(
    join(dir, 'nginx.conf'),
    `daemon off;
${process.getuid?.() === 0 ? 'user root;' : ''}
worker_processes 1;
pid ${dir}/nginx.pid;
error_log ${dir}/logs/error.log;
events { worker_connections 256; }
http {
  log_format pipe '$request_method $uri $status';
  access_log ${dir}/logs/access.log pipe;
  client_body_temp_path ${dir}/tmp;
  proxy_temp_path ${dir}/tmp; fastcgi_temp_path ${dir}/tmp; uwsgi_temp_path ${dir}/tmp; scgi_temp_path ${dir}/tmp;
  client_max_body_size 0;
  server {
    listen 127.0.0.1:${port};
    root ${root};
    location / {
      ${auth}
      dav_methods PUT;
      create_full_put_path on;
      dav_access user:rw group:r all:r;
    }
  }
}
`,
  );
  const child: ChildProcess = spawn('nginx', ['-c', join(dir, 'nginx.conf'), '-p', dir], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr!.on('data', (d) => (stderr += d));
  const url = `http://127.0.0.1:${port}`;
  for (let i = 0; ; i++) {
    try {
      await fetch(`${url}/`);
      break;
    } catch {
      if (i > 100 || child.exitCode !== null) throw new Error(`nginx did not start: ${stderr}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }
  const { readFileSync } = await import('node:fs');
  return {
    url,
    root,
    requests: () => {
      try {
        return readFileSync(join(dir, 'logs', 'access.log'), 'utf8').split('\n').filter(Boolean);
      } catch {
        return [];
      }
    },
    stop: async () => {
      if (child.exitCode === null) {
        const gone = new Promise((r) => child.once('exit', r));
        child.kill('SIGTERM');
        await gone;
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
