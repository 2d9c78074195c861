/**
 * A server-side DOM for Observable Plot, which builds charts with `document`, plus the
 * few SVG helpers the plotting layer needs. linkedom is used because jsdom takes
 * seconds to import (see docs/porting.md).
 * @module
 */
import { parseHTML } from "linkedom";
import type { PlotOptions } from "@observablehq/plot";

/** The DOM calls this project makes on Plot's output (Deno's default types have no DOM). */
export interface DomNode {
  /** Tag name, e.g. `svg` or `figure`. */
  tagName: string;
  /** Serialised markup. */
  outerHTML: string;
  /** Text of the node and its descendants. */
  textContent: string | null;
  /** Child elements. */
  children: ArrayLike<DomNode>;
  /** Reads an attribute. */
  getAttribute(name: string): string | null;
  /** Writes an attribute. */
  setAttribute(name: string, value: string): void;
  /** Removes an attribute. */
  removeAttribute(name: string): void;
  /** Appends a child node. */
  appendChild(child: DomNode): DomNode;
}

interface MiniDocument {
  createElementNS(ns: string, tag: string): DomNode;
  createTextNode(text: string): DomNode;
}

// linkedom's types describe its window as the browser's global, which has no DOM here.
const doc = (parseHTML(
  "<!DOCTYPE html><html><head></head><body></body></html>",
) as unknown as { document: MiniDocument }).document;

/** A linkedom document to pass as Plot's `document` option. */
export const document: NonNullable<PlotOptions["document"]> = doc as unknown as NonNullable<
  PlotOptions["document"]
>;

/** The SVG namespace, which Plot leaves off its root element. */
export const SVG_NS = "http://www.w3.org/2000/svg";

/** Creates an SVG element with the given attributes (numbers are rounded to 0.01). */
export function svgElement(
  tag: string,
  attributes: Record<string, string | number | undefined> = {},
): DomNode {
  const el = doc.createElementNS(SVG_NS, tag);
  for (const [k, v] of Object.entries(attributes)) {
    if (v === undefined) continue;
    el.setAttribute(
      k,
      typeof v === "number" ? String(Math.round(v * 100) / 100) : v,
    );
  }
  return el;
}

/** Creates an SVG `<text>` element. */
export function svgText(
  text: string,
  attributes: Record<string, string | number | undefined> = {},
): DomNode {
  const el = svgElement("text", attributes);
  el.appendChild(doc.createTextNode(text));
  return el;
}

// Plot writes coordinates with 15 significant digits; two decimals are sub-pixel and
// cut the size of a chart with thousands of dots by about half.
function trimNumbers(markup: string): string {
  return markup.replace(
    /(\s(?:c?[xy][12]?|r|d|transform|points|width|height|viewBox)=")([^"]*)"/g,
    (_m, head: string, value: string) => head + value.replace(/(\d\.\d\d)\d+/g, "$1") + '"',
  );
}

/** Serialises an SVG element with the `xmlns` that standalone renderers require. */
export function svgMarkup(el: DomNode): string {
  if (!el.getAttribute("xmlns")) el.setAttribute("xmlns", SVG_NS);
  return trimNumbers(el.outerHTML);
}
