// Runs in every test worker before the test file.
import 'reflect-metadata';
import '../../src/config/utc';

// Each test file gets its own temp folder: graphql-upload keeps uploads there, and a test can
// then see that none is left behind without seeing other workers' files.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
process.env.TMPDIR = mkdtempSync(path.join(tmpdir(), 'kiln-test-tmp-'));
