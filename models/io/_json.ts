// A strict JSON reader for safetensors headers: unlike JSON.parse it refuses
// duplicate keys (which would let two readers see different tensors under
// one name), keeps key order, and caps nesting.

/** A parsed JSON value; objects are Maps in text order. */
export type JsonValue = null | boolean | number | string | JsonValue[] | Map<string, JsonValue>;

/** Why a header is not valid JSON, with the character offset. */
export class JsonError extends Error {
  /** where in the text */
  readonly at: number;
  constructor(message: string, at: number) {
    super(`${message} at character ${at}`);
    this.at = at;
  }
}

// A run of characters a JSON string holds as they are: no quote, backslash or control character.
// deno-lint-ignore no-control-regex
const PLAIN = /[^"\\\u0000-\u001f]+/y;

/** Parses `text`, refusing duplicate keys and nesting deeper than `maxDepth`. */
export function parseJson(text: string, maxDepth = 64): JsonValue {
  let i = 0;
  const ws = () => {
    while (i < text.length && (text[i] === " " || text[i] === "\n" || text[i] === "\r" || text[i] === "\t")) i++;
  };
  const value = (depth: number): JsonValue => {
    if (depth > maxDepth) throw new JsonError(`nesting deeper than ${maxDepth}`, i);
    ws();
    const c = text[i];
    if (c === "{") {
      i++;
      const out = new Map<string, JsonValue>();
      ws();
      if (text[i] === "}") {
        i++;
        return out;
      }
      while (true) {
        ws();
        if (text[i] !== '"') throw new JsonError("expected a string key", i);
        const keyAt = i;
        const key = string();
        ws();
        if (text[i] !== ":") throw new JsonError("expected ':'", i);
        i++;
        if (out.has(key)) throw new JsonError(`duplicate key "${key}"`, keyAt);
        out.set(key, value(depth + 1));
        ws();
        if (text[i] === ",") {
          i++;
          continue;
        }
        if (text[i] === "}") {
          i++;
          return out;
        }
        throw new JsonError("expected ',' or '}'", i);
      }
    }
    if (c === "[") {
      i++;
      const out: JsonValue[] = [];
      ws();
      if (text[i] === "]") {
        i++;
        return out;
      }
      while (true) {
        out.push(value(depth + 1));
        ws();
        if (text[i] === ",") {
          i++;
          continue;
        }
        if (text[i] === "]") {
          i++;
          return out;
        }
        throw new JsonError("expected ',' or ']'", i);
      }
    }
    if (c === '"') return string();
    for (const [word, v] of [["true", true], ["false", false], ["null", null]] as const) {
      if (text.startsWith(word, i)) {
        i += word.length;
        return v;
      }
    }
    const m = /^-?(0|[1-9]\d*)(\.\d+)?([eE][+-]?\d+)?/.exec(text.slice(i, i + 400));
    if (m === null) throw new JsonError("unexpected character", i);
    i += m[0].length;
    return Number(m[0]);
  };
  const string = (): string => {
    const start = i;
    i++;
    let out = "";
    while (true) {
      if (i >= text.length) throw new JsonError("unterminated string", start);
      const c = text[i];
      if (c === '"') {
        i++;
        return out;
      }
      if (c === "\\") {
        const e = text[i + 1];
        const simple: Record<string, string> = {
          '"': '"',
          "\\": "\\",
          "/": "/",
          b: "\b",
          f: "\f",
          n: "\n",
          r: "\r",
          t: "\t",
        };
        if (e in simple) {
          out += simple[e];
          i += 2;
        } else if (e === "u" && /^[0-9a-fA-F]{4}$/.test(text.slice(i + 2, i + 6))) {
          out += String.fromCharCode(parseInt(text.slice(i + 2, i + 6), 16));
          i += 6;
        } else throw new JsonError("invalid escape", i);
      } else if (c < " ") {
        throw new JsonError("control character in a string", i);
      } else {
        PLAIN.lastIndex = i;
        PLAIN.exec(text);
        out += text.slice(i, PLAIN.lastIndex);
        i = PLAIN.lastIndex;
      }
    }
  };
  const out = value(0);
  ws();
  if (i !== text.length) throw new JsonError("unexpected text after the JSON value", i);
  return out;
}
