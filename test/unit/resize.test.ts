import test from 'ava';
import { resizedWorkers } from '@socketserver/core/process';

// A real server at the cap would need 1024 worker processes: the arbiter's rule is checked here.
test('TTIN adds a worker up to 1024 (the most the workers setting accepts); TTOU never goes below one', (t) => {
  t.is(resizedWorkers(1, +1), 2);
  t.is(resizedWorkers(1023, +1), 1024);
  t.is(resizedWorkers(1024, +1), 1024, 'capped');
  t.is(resizedWorkers(2, -1), 1);
  t.is(resizedWorkers(1, -1), 1, 'never below one');
});
