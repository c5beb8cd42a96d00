import { renderToStaticMarkup } from "react-dom/server";
import { describe, expect, it } from "vitest";

import { Highlighted, parseSnippet } from "./highlight";

const html = (snippet: string): string => renderToStaticMarkup(<Highlighted snippet={snippet} />);

describe("highlights", () => {
  it("renders the matched words in <mark> and the rest as text", () => {
    expect(html("Sony <mark>Headphones</mark> WH")).toBe("Sony <mark>Headphones</mark> WH");
    expect(parseSnippet("<mark>a</mark> b <mark>c</mark>")).toEqual([
      { text: "a", marked: true },
      { text: " b ", marked: false },
      { text: "c", marked: true },
    ]);
  });

  it("shows a hostile product name as text, never as markup", () => {
    // What the API sends for the name `<img src=x onerror=alert(1)> Lamp` matching "lamp".
    const snippet = "&lt;img src=x onerror=alert(1)&gt; <mark>Lamp</mark>";
    const out = html(snippet);
    expect(out).toBe("&lt;img src=x onerror=alert(1)&gt; <mark>Lamp</mark>");
    expect(out).not.toContain("<img");
    expect(parseSnippet(snippet)[0]).toEqual({ text: "<img src=x onerror=alert(1)> ", marked: false });
  });

  it("treats markup other than <mark> as text even if the server sent it raw", () => {
    const out = html('<b onclick="x">bold</b> <script>alert(1)</script><mark><i>m</i></mark>');
    expect(out).not.toMatch(/<(b|script|i)[ >]/);
    expect(out).toContain("<mark>&lt;i&gt;m&lt;/i&gt;</mark>");
  });

  it("decodes entities once: an escaped entity stays visible", () => {
    expect(parseSnippet("AT&amp;amp;T &quot;x&quot;")).toEqual([{ text: 'AT&amp;T "x"', marked: false }]);
  });
});
