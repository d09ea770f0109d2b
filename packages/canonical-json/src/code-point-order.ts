/**
 * Key order by Unicode code point.
 *
 * Spec (appendices.md, "Canonical JSON"): "dictionary keys lexicographically sorted by Unicode
 * codepoint". JavaScript's default `sort()` compares UTF-16 code units instead. The two orders
 * agree except where a surrogate (U+D800–U+DFFF, the halves of a code point ≥ U+10000) meets a
 * unit in U+E000–U+FFFF at the first difference: by code unit the surrogate sorts first, by code
 * point the astral character sorts last. So the plain sort is right unless some key holds a
 * unit ≥ U+D800, which the encoder detects cheaply and only then uses this comparator.
 */

/**
 * Compares two well-formed strings by code point. Before the first differing unit the strings
 * agree, so that unit starts a code point in both or is the low half of pairs with the same high
 * half. Remapping just that unit is therefore enough: surrogates move up past U+E000–U+FFFF
 * (+0x2000) and U+E000–U+FFFF move down into the gap (−0x800); units below U+D800 stay put.
 */
export function compareCodePoints(a: string, b: string): number {
  const length = Math.min(a.length, b.length);
  for (let i = 0; i < length; i++) {
    const x = a.charCodeAt(i);
    const y = b.charCodeAt(i);
    if (x !== y) return rank(x) - rank(y);
  }
  return a.length - b.length;
}

function rank(unit: number): number {
  if (unit < 0xd800) return unit;
  // U+D800–U+DFFF → 0xF800–0xFFFF; U+E000–U+FFFF → 0xD800–0xF7FF.
  return unit < 0xe000 ? unit + 0x2000 : unit - 0x800;
}
