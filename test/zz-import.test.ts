import { startTestKiln } from './support/test-kiln';
it('imports', () => { expect(typeof startTestKiln).toBe('function'); });
