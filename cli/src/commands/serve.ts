import { App, discoverServers, resolveSettings, type DiscoverOptions, type Discovery } from '@socketserver/core';
import { Arbiter, inheritedSockets, serve } from '@socketserver/core/process';

/**
 * `ss serve`: with workers 0 (or concurrency thread) and one server, serve in this process;
 * otherwise this process is the arbiter of worker processes.
 */
export async function serveCommand(discoveries: Discovery[], cli: Record<string, unknown>, boot: DiscoverOptions): Promise<number> {
  // Take systemd's LISTEN_* variables now, before a plugin or a worker can see (and inherit) them.
  inheritedSockets();
  if (discoveries.length === 1) {
    const settings = resolveSettings(discoveries[0]!, cli);
    const { workers, concurrency } = settings.values as { workers: number; concurrency: string };
    if (workers === 0 || concurrency === 'thread') {
      const running = await serve(await App.create(discoveries[0]!, settings));
      await running.stopped;
      return 0;
    }
  }
  const arbiter = await Arbiter.create(discoveries, {
    cwd: boot.cwd, cli, builtinDirs: boot.builtinDirs ?? [],
    rediscover: () => discoverServers({ ...boot, cli, fresh: true }),
  });
  return arbiter.run();
}
