/**
 * The import boundaries of plue-infra (README, "Layout"): each folder imports only downward.
 *   app/ -> review/, stacks/ -> constructs/, charts/, config/ -> lib/
 *   pki/, db/ -> lib/            lib/ -> nothing of the project
 * `npm test` runs it (`npm run lint:imports`); test/review/... proves each rule fails on a wrong import.
 * @type {import('dependency-cruiser').IConfiguration}
 */
const project = "^(app|review|stacks|constructs|charts|config|pki|db|lib)/";
const only = (from, allowed) => ({
  name: allowed.length === 0 ? `${from}-imports-nothing-of-the-project` : `${from}-imports-only-${allowed.join("-")}`,
  comment: `${from}/ may import only ${allowed.map((a) => `${a}/`).join(", ")} of the project`,
  severity: "error",
  from: { path: `^${from}/` },
  to: { path: project, pathNot: `^(${[from, ...allowed].join("|")})/` },
});

module.exports = {
  forbidden: [
    {
      name: "no-circular",
      comment: "A cycle makes two folders one layer.",
      severity: "error",
      from: { path: project },
      to: { circular: true },
    },
    only("lib", []),
    only("config", ["lib"]),
    only("pki", ["lib"]),
    only("db", ["lib"]),
    only("constructs", ["lib"]),
    only("charts", ["lib"]),
    only("review", ["config", "lib"]),
    only("stacks", ["constructs", "charts", "config", "lib"]),
    {
      name: "no-test-code-in-product",
      comment: "Product code never imports tests or their support.",
      severity: "error",
      from: { path: project },
      to: { path: "^test/" },
    },
  ],
  options: {
    parser: "swc",
    tsPreCompilationDeps: true,
    doNotFollow: { path: "node_modules" },
    exclude: { path: "^(node_modules|cdktf.out|\\.cache)/" },
    includeOnly: "^(app|review|stacks|constructs|charts|config|pki|db|lib|test)/",
  },
};
