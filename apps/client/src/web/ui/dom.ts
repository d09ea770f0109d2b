/**
 * The page's only way to build elements: text goes in as text nodes (`append` with strings), never
 * as HTML, so user content (names, messages, reasons) cannot inject markup or script.
 */

export type Child = Node | string;

/** An element with attributes and children; attribute values are set as plain strings. */
export function h<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  attributes: Record<string, string> = {},
  ...children: Child[]
): HTMLElementTagNameMap[K] {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) element.setAttribute(name, value);
  element.append(...children);
  return element;
}

/** The element with this ID, of the expected type. */
export function byId<T extends HTMLElement>(id: string, type: new () => T): T {
  const element = document.getElementById(id);
  if (!(element instanceof type)) throw new Error(`page is missing #${id}`);
  return element;
}

/** A form field's value as text. */
export function field(form: HTMLFormElement, name: string): string {
  const value = new FormData(form).get(name);
  return typeof value === 'string' ? value : '';
}
