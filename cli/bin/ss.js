#!/usr/bin/env node
// Launcher kept outside dist/ so npm can link the `ss` bin before the first build.
import { run } from '../dist/main.js';

// Exit as soon as the command is done: a stopped server must not linger on timers
// that handlers or plugins left behind.
process.exit(await run(process.argv));
