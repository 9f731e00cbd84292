// Entry point of a worker process, forked by the arbiter (see arbiter.ts).
import { logWorkerCrash, runWorker } from './worker.js';

process.on('uncaughtException', (err) => {
  logWorkerCrash(err);
  process.exit(1);
});
await runWorker();
