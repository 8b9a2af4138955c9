// Loading the binary: a missing build is a typed, explanatory error (this file runs in its own process, so the
// binary has not been loaded yet when the override is set).
import { afterEach, describe, expect, it } from 'vitest';
import {
  isNativeAvailable,
  loadNative,
  NativeEngineNotBuiltError,
  nativeBinaryPath,
} from '../../native/index';

describe('native loader', () => {
  afterEach(() => {
    delete process.env.TUNEKIT_NATIVE_BINARY;
  });

  it('says how to build the engine when the binary is missing', () => {
    process.env.TUNEKIT_NATIVE_BINARY = '/nonexistent/tunekit.node';
    expect(isNativeAvailable()).toBe(false);
    let error: unknown;
    try {
      loadNative();
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(NativeEngineNotBuiltError);
    expect((error as NativeEngineNotBuiltError).code).toBe('ERR_TUNEKIT_NATIVE_NOT_BUILT');
    expect((error as Error).message).toContain('npm run build:native');
    expect((error as Error).message).toContain('/nonexistent/tunekit.node');
  });

  it('loads the built binary from native/build/Release', () => {
    expect(nativeBinaryPath()).toMatch(/native\/build\/Release\/tunekit\.node$/);
    const native = loadNative();
    expect(typeof native.train).toBe('function');
    const info = native.engineInfo();
    expect(info).toEqual({
      cpu: expect.stringMatching(/^(avx512|avx2|portable)$/),
      cpuPaths: expect.arrayContaining(['portable', info.cpu]),
      cpuReport: expect.stringContaining(info.cpu),
      cblas: expect.any(Boolean),
    });
  });
});
