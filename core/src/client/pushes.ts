/**
 * The pushes a client receives from when `client.pushes()` made it until the connection
 * closes, queued for a consumer that may be slower than they come: at most `limit` wait, and
 * beyond that the oldest is dropped and counted. Dropping, not pausing the socket: a paused
 * socket would hold up the replies behind the pushes too, and a server closes a client that
 * stops reading as a slow consumer anyway.
 */
export class PushIterator<T> implements AsyncIterableIterator<T> {
  /** Pushes dropped, the oldest first, because `limit` were already waiting to be read. */
  dropped = 0;
  private readonly queue: T[] = [];
  private readonly waiters: { resolve(r: IteratorResult<T>): void; reject(err: Error): void }[] = [];
  private done = false;
  private error: Error | undefined;

  constructor(private readonly limit: number, private readonly detach: (it: PushIterator<T>) => void) {}

  /** A push arrived: to a waiting `next()`, else into the queue. */
  put(message: T): void {
    if (this.done) return;
    const waiter = this.waiters.shift();
    if (waiter) return waiter.resolve({ value: message, done: false });
    if (this.queue.length >= this.limit) {
      this.dropped++;
      if (this.limit === 0) return;
      this.queue.shift();
    }
    this.queue.push(message);
  }

  /** The connection closed: what is queued is still read, then the iteration ends (throwing `error`, if the connection failed). */
  end(error?: Error): void {
    if (this.done) return;
    this.done = true;
    this.error = error;
    for (const waiter of this.waiters.splice(0)) this.finish(waiter);
  }

  next(): Promise<IteratorResult<T>> {
    if (this.queue.length > 0) return Promise.resolve({ value: this.queue.shift()!, done: false });
    return new Promise((resolve, reject) => {
      if (this.done) this.finish({ resolve, reject });
      else this.waiters.push({ resolve, reject });
    });
  }

  /** `break` out of `for await`: stop queueing. */
  return(): Promise<IteratorResult<T>> {
    this.detach(this);
    this.queue.length = 0;
    this.end();
    this.error = undefined;
    return Promise.resolve({ value: undefined, done: true });
  }

  [Symbol.asyncIterator](): this {
    return this;
  }

  private finish(waiter: { resolve(r: IteratorResult<T>): void; reject(err: Error): void }): void {
    const error = this.error;
    this.error = undefined; // thrown once; after it the iteration is simply done
    if (error) waiter.reject(error);
    else waiter.resolve({ value: undefined, done: true });
  }
}
