import { compileCondition, createThresholdJudge, ExpressionError } from '@kanary/metrics';
import { describe, expect, it } from 'vitest';

const test = (src: string, env: Record<string, unknown>) => compileCondition(src).test(env);

describe('conditions (the safe evaluator)', () => {
  it("reads Argo's usual conditions over a vector result", () => {
    expect(test('result[0] >= 0.99', { result: [0.995] })).toBe(true);
    expect(test('result[0] >= 0.99', { result: [0.95] })).toBe(false);
    expect(test('len(result) > 0 && result[-1] < 500', { result: [100, 300] })).toBe(true);
    expect(test('result < baseline * 1.1', { result: 105, baseline: 100 })).toBe(true);
    expect(test('result < baseline * 1.1', { result: 111, baseline: 100 })).toBe(false);
  });

  it('honours precedence, "and"/"or"/"not" and parentheses', () => {
    expect(test('1 + 2 * 3 == 7', {})).toBe(true);
    expect(test('(1 + 2) * 3 == 9', {})).toBe(true);
    expect(test('not isNaN(result) and result > 1 or false', { result: 2 })).toBe(true);
    expect(test('!(result > 1)', { result: 2 })).toBe(false);
    expect(test('-result < 0', { result: 2 })).toBe(true);
    expect(test('max(result) - min(result) <= 2 && mean(result) == 2', { result: [1, 2, 3] })).toBe(true);
  });

  it('reports errors for what cannot be evaluated instead of guessing', () => {
    expect(() => test('result[3] > 1', { result: [1] })).toThrow(/out of range/);
    expect(() => test('result > 1', { result: 'x' })).toThrow(ExpressionError);
    expect(() => test('result + 1', { result: 1 })).toThrow(/not true or false/);
    expect(() => compileCondition('result >= ')).toThrow(/unexpected end/);
    expect(() => compileCondition('result >= 1 ; drop')).toThrow(ExpressionError);
  });

  it('cannot reach code or prototypes: only plain data and a fixed list of functions', () => {
    expect(() => test('result.constructor == 1', { result: [1] })).toThrow(ExpressionError);
    expect(() => test('result.constructor == 1', { result: { a: 1 } })).toThrow(/no field "constructor"/);
    expect(() => test('__proto__ == nil', { result: 1 })).toThrow(/unknown name/);
    expect(() => test('process.exit(1)', { result: 1 })).toThrow(ExpressionError);
    expect(() => test('eval("1") == 1', { result: 1 })).toThrow(/unknown function "eval"/);
    expect(() => test('toString() == 1', { result: 1 })).toThrow(/unknown function/);
  });
});

describe('web JSON values keep their types, as in Argo', () => {
  it("a JSON string stays a string: result.major == '1' and result == '1' hold; ordering reads numeric strings", () => {
    const look = (condition: string, raw: unknown, result: number | number[]) =>
      createThresholdJudge({ successCondition: condition }).look(
        undefined,
        { kind: 'scalar', result, raw },
        { at: 0 },
      ).look.phase;
    expect(look("result.major == '1'", { major: '1', minor: '31' }, Number.NaN)).toBe('successful');
    expect(look("result == '1'", '1', 1)).toBe('successful');
    expect(look('result == 1', '1', 1)).toBe('failed');
    expect(look('result > 0.95', '0.99', 0.99)).toBe('successful');
    expect(look("result == 'ok'", 'ok', Number.NaN)).toBe('successful');
    // No value at all is still no data.
    expect(look('result > 0.95', undefined, [])).toBe('nodata');
  });
});
