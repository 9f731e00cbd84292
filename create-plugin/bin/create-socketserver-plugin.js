#!/usr/bin/env node
// Launcher kept outside dist/ so npm can link the bin before the first build.
import { run } from '../dist/main.js';

process.exitCode = await run(process.argv.slice(2));
