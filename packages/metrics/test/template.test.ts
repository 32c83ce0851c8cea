import { renderPromQL, renderUrl, TemplateError } from '@kanary/metrics';
import { describe, expect, it } from 'vitest';

describe('query templates', () => {
  const vars = { namespace: 'shop', canary: 'front-canary', interval: '30s' };

  it('fills placeholders inside strings and durations outside them', () => {
    expect(renderPromQL('sum(rate(x{ns="{{namespace}}",w="{{ canary }}"}[{{interval}}]))', vars)).toBe(
      'sum(rate(x{ns="shop",w="front-canary"}[30s]))',
    );
  });

  it('neutralises an injection attempt in a label value: the value stays one string', () => {
    const evil = 'x"} or vector(1) or x{a="';
    const q = renderPromQL('sum(x{w="{{canary}}"})', { canary: evil });
    expect(q).toBe('sum(x{w="x\\"} or vector(1) or x{a=\\""})');
    // Parse it back the way PromQL lexes strings: the label value is exactly the input.
    const literal = /w="((?:[^"\\]|\\.)*)"/.exec(q)?.[1] ?? '';
    expect(literal.replace(/\\(.)/g, '$1')).toBe(evil);
    // And the rest of the query is unchanged.
    expect(q.startsWith('sum(x{w="') && q.endsWith('"})')).toBe(true);
  });

  it('escapes regular-expression characters after =~, so a value matches only itself', () => {
    expect(renderPromQL('x{w=~"{{canary}}"}', { canary: 'a.*|b' })).toBe('x{w=~"a\\\\.\\\\*\\\\|b"}');
    expect(renderPromQL("x{w!~'{{canary}}'}", { canary: "it's" })).toBe("x{w!~'it\\'s'}");
  });

  it('refuses a value outside quotes unless it is a duration or a number', () => {
    expect(() => renderPromQL('rate(x[{{interval}}])', { interval: '1m]) or vector(1) #' })).toThrow(
      TemplateError,
    );
    expect(() => renderPromQL('rate(x[{{interval}}])', { interval: '1m]) or vector(1) #' })).toThrow(
      /put it inside quotes/,
    );
    expect(renderPromQL('rate(x[{{interval}}])', { interval: '1m30s' })).toBe('rate(x[1m30s])');
  });

  it('names a placeholder that has no value', () => {
    expect(() => renderPromQL('x{a="{{nope}}"}', vars)).toThrow(
      /"\{\{nope\}\}" has no value \(known: namespace, canary, interval\)/,
    );
  });

  it('percent-encodes values in URLs', () => {
    expect(
      renderUrl('http://m/api?q={{canary}}&ns={{namespace}}', { canary: 'a&b=c#d', namespace: 'shop' }),
    ).toBe('http://m/api?q=a%26b%3Dc%23d&ns=shop');
  });
});
