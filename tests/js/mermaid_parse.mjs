// Mermaid's own parser, headless: one JSON document a line in (the diagram text), one out
// ({ok, error, title, states, edges}). Used by tests/parsers.py to check generated
// diagrams with the real grammar. Mermaid expects a browser, so jsdom provides the DOM
// it touches while loading (DOMPurify); parsing itself draws nothing.
import { createInterface } from "node:readline";
import { JSDOM } from "jsdom";

const dom = new JSDOM("<!doctype html><html><body></body></html>");
globalThis.window = dom.window;
globalThis.document = dom.window.document;
const { default: mermaid } = await import("mermaid");
mermaid.initialize({ startOnLoad: false, securityLevel: "strict" });

async function parse(text) {
  try {
    const diagram = await mermaid.mermaidAPI.getDiagramFromText(text);
    const db = diagram.db;
    const data = db.getData ? db.getData() : { nodes: [], edges: [] };
    // State diagrams (the procedures' pictures) have states; flowcharts (docs) have none.
    const states = db.getStates
      ? [...db.getStates().values()].map((s) => ({
          id: s.id,
          descriptions: s.descriptions,
          classes: s.classes,
        }))
      : [];
    return {
      ok: true,
      type: diagram.type,
      title: db.getDiagramTitle ? db.getDiagramTitle() : "",
      states,
      edges: (data.edges || []).map((e) => ({ start: e.start, end: e.end, label: e.label })),
    };
  } catch (error) {
    return { ok: false, error: String(error && error.message ? error.message : error) };
  }
}

const lines = createInterface({ input: process.stdin });
for await (const line of lines) {
  const result = await parse(JSON.parse(line));
  process.stdout.write(JSON.stringify(result) + "\n");
}
