import { closest } from '@kanary/core/adapter';
import { describe, expect, it } from 'vitest';
import { editDistance, fieldsAt } from '../src/spec/suggest.ts';

describe('edit distance and the nearest field', () => {
  it('counts insertions, deletions, substitutions and adjacent swaps, ignoring case', () => {
    expect(editDistance('steps', 'steps')).toBe(0);
    expect(editDistance('stesp', 'steps')).toBe(1); // a swap
    expect(editDistance('setWieght', 'setWeight')).toBe(1);
    expect(editDistance('duraton', 'duration')).toBe(1);
    expect(editDistance('SetWeight', 'setweight')).toBe(0);
    expect(editDistance('', 'abc')).toBe(3);
    expect(editDistance('kitten', 'sitting')).toBe(3);
  });

  it('suggests only within a third of the word, and never on a tie', () => {
    expect(closest('servce', ['service', 'name'])).toBe('service');
    expect(closest('nme', ['name', 'service'])).toBe('name');
    expect(closest('abcdef', ['service', 'name'])).toBeUndefined();
    // "pase" is one edit from both "pause" and "case": no guess.
    expect(closest('pase', ['pause', 'case'])).toBeUndefined();
    expect(closest('name', ['name'])).toBeUndefined();
  });

  it('finds the fields of every branch of a union at a path, through $ref and items', () => {
    const schema = {
      $defs: { side: { type: 'object', properties: { image: {}, replicas: {} } } },
      type: 'object',
      properties: {
        steps: {
          type: 'array',
          items: {
            anyOf: [{ properties: { setWeight: {} } }, { properties: { pause: { $ref: '#/$defs/side' } } }],
          },
        },
      },
    };
    expect(fieldsAt(schema, [])).toEqual(['steps']);
    expect(fieldsAt(schema, ['steps', 0]).sort()).toEqual(['pause', 'setWeight']);
    expect(fieldsAt(schema, ['steps', 3, 'pause']).sort()).toEqual(['image', 'replicas']);
    expect(fieldsAt(schema, ['nowhere'])).toEqual([]);
  });
});
