import { promQLTemplateProblem, renderPromQL, renderUrl, TemplateError } from '@kanary/metrics';
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

describe('templates correct by construction (parsed back with the PromQL grammar)', () => {
  // Values an attacker with write access to a spec, or a careless user, might give.
  const hostile = [
    '"} or vector(1) or x{a="',
    "'} or vector(1) or x{a='",
    '`) or vector(1)',
    '\\"} or vector(1) #',
    'a\nsum(up)',
    '\n} or vector(1) # ',
    '# "',
    "it's",
    '.*',
    '{{canary}}',
    '\u0000',
    '"'.repeat(50),
    "x' or vector(1) or x{a='",
  ];
  const templates = [
    'sum(rate(x{team="{{team}}"}[5m]))',
    "sum(rate(x{team='{{team}}'}[5m]))",
    'sum(rate(x{team=~"{{team}}"}[5m]))',
    'sum(rate(x{team!~`{{team}}`}[5m]))',
    '# the canary\'s rate, for {{team}}\nsum(rate(x{team="{{team}}"}[5m]))',
    'sum(rate(x{team="{{team}}"}[5m])) # by team {{team}}\n/ sum(rate(y[5m]))',
  ];

  it.each(templates)('no hostile value changes the query around it: %s', (template) => {
    const safe = renderPromQL(template, { team: 'shop' });
    for (const team of hostile) {
      let q: string;
      try {
        q = renderPromQL(template, { team });
      } catch (error) {
        // Refusing a value is fine (a backquote in a raw string); letting it through changed is not.
        expect(error).toBeInstanceOf(TemplateError);
        continue;
      }
      // Outside the literals and comments the value sits in, the query is the one rendered for "shop".
      const skeleton = (text: string) =>
        text
          .split(/("(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|`[^`]*`|#[^\n]*)/)
          .filter((_, i) => i % 2 === 0)
          .join('|');
      expect(skeleton(q), JSON.stringify(team)).toBe(skeleton(safe));
    }
  });

  it("knows comments: a quote inside one is not a string, and a value there stays on the comment's line", () => {
    const template = '# the canary\'s error rate\nsum(rate(x{team="{{team}}"}[5m])) # for {{team}}';
    expect(renderPromQL(template, { team: 'shop' })).toBe(
      '# the canary\'s error rate\nsum(rate(x{team="shop"}[5m])) # for shop',
    );
    expect(renderPromQL(template, { team: 'a\nor vector(1)' })).toBe(
      '# the canary\'s error rate\nsum(rate(x{team="a\\nor vector(1)"}[5m])) # for a or vector(1)',
    );
  });

  it('refuses a template that does not parse, or whose placeholder is not a whole literal, at validation', () => {
    expect(promQLTemplateProblem('sum(rate(x{team="{{team}}"}[{{interval}}]))')).toBeUndefined();
    expect(promQLTemplateProblem('sum(rate(x{team="{{team}}"}[5m])')).toMatch(
      /does not parse as PromQL at position/,
    );
    // A number glued to another token: not one literal.
    expect(promQLTemplateProblem('x > 1{{threshold}}')).toMatch(
      /"\{\{threshold\}\}" \(position 5 of the template\) does not land as one number or duration/,
    );
    expect(promQLTemplateProblem('x{ {{label}}="a"}')).toMatch(/does not parse|does not land/);
  });

  it('URL templates: a value is one path segment or query value; "." and ".." and host placeholders are refused', () => {
    expect(renderUrl('https://m.example/teams/{{team}}/ratio', { team: 'a/b' })).toBe(
      'https://m.example/teams/a%2Fb/ratio',
    );
    expect(() => renderUrl('https://m.example/teams/{{team}}/ratio', { team: '..' })).toThrow(/path step/);
    expect(() => renderUrl('https://{{host}}/ratio', { host: 'evil.example' })).toThrow(
      /may not choose the server/,
    );
    expect(() => renderUrl('https://m.example:{{port}}/x', { port: '80@evil.example' })).toThrow(
      /may not choose/,
    );
    expect(renderUrl('https://m.example/x?team={{team}}', { team: '..' })).toBe(
      'https://m.example/x?team=..',
    );
  });
});
