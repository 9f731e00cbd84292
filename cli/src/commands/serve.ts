import { App, resolveSettings, serve, type Discovery } from '@socketserver/core';

/** `ss serve`: build the app and serve until a signal stops it. */
export async function serveCommand(discovery: Discovery, cli: Record<string, unknown>): Promise<number> {
  const app = await App.create(discovery, resolveSettings(discovery, cli));
  const running = await serve(app);
  await running.stopped;
  return 0;
}
