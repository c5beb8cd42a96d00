// Search highlights are HTML from the server: the matched words in <mark>…</mark>, the rest
// escaped. They are never put into the page as HTML: the snippet is split into text and
// marked text, entities are decoded, and React renders each part as text, so nothing but
// <mark> can ever come out of a snippet (a product called `<img onerror=…>` shows as text).
import type { ReactNode } from "react";

export interface SnippetPart {
  text: string;
  marked: boolean;
}

const ENTITIES: Record<string, string> = { amp: "&", lt: "<", gt: ">", quot: '"', apos: "'", "#39": "'" };

function decodeEntities(text: string): string {
  return text.replace(/&(amp|lt|gt|quot|apos|#39);/g, (_, name: string) => ENTITIES[name] ?? "");
}

export function parseSnippet(snippet: string): SnippetPart[] {
  const parts: SnippetPart[] = [];
  const pattern = /<mark>([\s\S]*?)<\/mark>/g;
  let last = 0;
  for (const match of snippet.matchAll(pattern)) {
    if (match.index > last) parts.push({ text: decodeEntities(snippet.slice(last, match.index)), marked: false });
    parts.push({ text: decodeEntities(match[1] ?? ""), marked: true });
    last = match.index + match[0].length;
  }
  if (last < snippet.length) parts.push({ text: decodeEntities(snippet.slice(last)), marked: false });
  return parts.filter((part) => part.text.length > 0);
}

/** The snippet as React nodes: text, and text inside <mark>. */
export function Highlighted({ snippet }: { snippet: string }): ReactNode {
  return parseSnippet(snippet).map((part, i) => (part.marked ? <mark key={i}>{part.text}</mark> : part.text));
}
