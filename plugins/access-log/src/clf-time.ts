const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

const pad = (n: number): string => (n < 10 ? `0${n}` : String(n));

/** `[02/Dec/2026:05:06:51 +0000]`: local time as gunicorn's (and Apache's) access log writes it. */
export function clfTime(ms: number): string {
  const d = new Date(ms);
  const offset = -d.getTimezoneOffset();
  const abs = Math.abs(offset);
  const zone = `${offset < 0 ? '-' : '+'}${pad(Math.floor(abs / 60))}${pad(abs % 60)}`;
  return `[${pad(d.getDate())}/${MONTHS[d.getMonth()]}/${d.getFullYear()}:${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())} ${zone}]`;
}

/** `clfTime`, made once a second: a busy log asks for the same second many times. */
export function cachedClfTime(): (ms: number) => string {
  let second = -1;
  let text = '';
  return (ms) => {
    const s = Math.floor(ms / 1000);
    if (s !== second) [second, text] = [s, clfTime(ms)];
    return text;
  };
}
