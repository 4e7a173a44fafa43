import { readFileSync, readdirSync, statSync } from "node:fs";
import { join, relative, resolve } from "node:path";
import ts from "typescript";

/**
 * HTTP statuses appear in one place only, lib/http-status.ts: the rest of the server names them
 * from there. Read from the sources, so a status written by hand anywhere else fails here.
 *
 * Scanned: the layers that answer HTTP and may import lib/ (lib, models, mixins, services, the
 * process's entry and broker options). Adapters and the layers below them cannot import lib/;
 * a status they read is another server's answer (a webhook receiver's, Stripe's), not ours.
 */
const ROOT = resolve(__dirname, "..", "..");
const SCANNED = ["lib", "models", "mixins", "services", "server.ts", "moleculer.config.ts"];
const THE_ONE_PLACE = "lib/http-status.ts";

function sourceFiles(path: string): string[] {
  if (!statSync(path).isDirectory()) return path.endsWith(".ts") ? [path] : [];
  return readdirSync(path).flatMap((name) => sourceFiles(join(path, name)));
}

/** A name that holds a status: `status`, `statusCode`, `$statusCode`, an error's `code`... */
const STATUS_NAME = /(status|code)$/i;
/** A call that takes a status among its arguments: writeHead(404), json(res, 404), reply(400)... */
const STATUS_CALL = /(writeHead|status|json|send|reply|refus\w*|respond|answer|\w*Error)$/i;
const COMPARISON = new Set([
  ts.SyntaxKind.EqualsEqualsEqualsToken,
  ts.SyntaxKind.ExclamationEqualsEqualsToken,
  ts.SyntaxKind.EqualsEqualsToken,
  ts.SyntaxKind.ExclamationEqualsToken,
  ts.SyntaxKind.LessThanToken,
  ts.SyntaxKind.LessThanEqualsToken,
  ts.SyntaxKind.GreaterThanToken,
  ts.SyntaxKind.GreaterThanEqualsToken,
]);

const nameOf = (node: ts.Node, file: ts.SourceFile): string =>
  ts.isPropertyAccessExpression(node) ? node.name.text : node.getText(file);

/** The expression a literal's value flows into: through `a ? N : M`, `x ?? N`, `(N)`, `N as T`. */
function consumer(node: ts.Node): { user: ts.Node; operand: ts.Node } {
  let operand = node;
  let user = node.parent;
  for (;;) {
    const passesThrough =
      (ts.isConditionalExpression(user) && user.condition !== operand) ||
      ts.isParenthesizedExpression(user) ||
      ts.isAsExpression(user) ||
      (ts.isBinaryExpression(user) &&
        [ts.SyntaxKind.QuestionQuestionToken, ts.SyntaxKind.BarBarToken].includes(
          user.operatorToken.kind,
        ));
    if (!passesThrough) return { user, operand };
    operand = user;
    user = user.parent;
  }
}

/** Is this numeric literal (100–599) used as an HTTP status? */
function usedAsStatus(literal: ts.NumericLiteral, file: ts.SourceFile): boolean {
  const { user, operand } = consumer(literal);
  if (
    (ts.isPropertyAssignment(user) ||
      ts.isPropertyDeclaration(user) ||
      ts.isVariableDeclaration(user)) &&
    user.initializer === operand
  ) {
    return STATUS_NAME.test(user.name.getText(file));
  }
  if (ts.isBinaryExpression(user)) {
    const other = user.left === operand ? user.right : user.left;
    const assigns = user.operatorToken.kind === ts.SyntaxKind.EqualsToken;
    if (assigns || COMPARISON.has(user.operatorToken.kind)) {
      return STATUS_NAME.test(nameOf(other, file));
    }
  }
  if (ts.isCallExpression(user) || ts.isNewExpression(user)) {
    return STATUS_CALL.test(nameOf(user.expression, file));
  }
  return false;
}

/** Every status written by hand in a source text, as `path:line: text`. */
function statusesIn(path: string, text: string): string[] {
  const file = ts.createSourceFile(path, text, ts.ScriptTarget.Latest, true);
  const found: string[] = [];
  const report = (node: ts.Node) => {
    const line = file.getLineAndCharacterOfPosition(node.getStart(file)).line + 1;
    found.push(`${path}:${line}: ${node.getText(file)}`);
  };
  const visit = (node: ts.Node) => {
    if (ts.isNumericLiteral(node)) {
      const value = Number(node.text);
      if (Number.isInteger(value) && value >= 100 && value <= 599 && usedAsStatus(node, file)) {
        report(node);
      }
    } else if (ts.isStringLiteralLike(node)) {
      // "404" as a document's response key, or a raw "HTTP/1.1 503 ..." status line.
      if (/^[1-5]\d\d$/.test(node.text) || /HTTP\/\d(\.\d)? [1-5]\d\d\b/.test(node.text)) {
        report(node);
      }
    }
    ts.forEachChild(node, visit);
  };
  visit(file);
  return found;
}

const files = SCANNED.flatMap((entry) => sourceFiles(join(ROOT, entry)))
  .map((path) => relative(ROOT, path))
  .filter((path) => path !== THE_ONE_PLACE);

describe("HTTP statuses", () => {
  it("are written in lib/http-status.ts only", () => {
    expect(files.length).toBeGreaterThan(50);
    const found = files.flatMap((path) => statusesIn(path, readFileSync(join(ROOT, path), "utf8")));
    expect(found).toEqual([]);
  });

  it("are caught wherever a status is written by hand", () => {
    const samples = [
      "res.writeHead(503, {});",
      "json(res, 404, body);",
      "json(res, ready ? 200 : 503, body);",
      "reply(400, body);",
      "const error = { message: 'x', code: 429 };",
      "class E { readonly code = 429; }",
      "ctx.meta.$statusCode = 503;",
      "if (status >= 500) log();",
      "if (res.statusCode === 404) log();",
      "if (answer.httpStatus !== 200) log();",
      "new MoleculerClientError('x', 422, 'TYPE');",
      "const responses = { '404': doc };",
      "socket.write('HTTP/1.1 503 Service Unavailable');",
    ];
    expect(samples.filter((sample) => statusesIn("sample.ts", sample).length === 0)).toEqual([]);
  });

  it("leaves other numbers alone", () => {
    const samples = ["query.limit(500);", "const maxBatch = 500;", "setTimeout(done, 500);"];
    expect(samples.filter((sample) => statusesIn("sample.ts", sample).length > 0)).toEqual([]);
  });
});
