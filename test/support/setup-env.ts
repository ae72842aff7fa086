// Runs in every test worker before the test file.
import 'reflect-metadata';
import '../../src/config/utc';

