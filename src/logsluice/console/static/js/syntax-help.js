// The query syntax at a glance: the constructs of docs/query-language.md with an example each.

import { h } from "./dom.js";

const CONSTRUCTS = [
  ["everything", "*", "every record in the time range"],
  ["word, phrase", 'timeout   "disk full"', "full text over message, ignoring case"],
  ["wildcards", "err*   c?nfig", "* any run of characters, ? one character"],
  ["field equals", "host:web-1   status:500", "text ignores case; numbers compare as numbers"],
  ["quoted value", 'user.name:"Mary Ann"', "taken literally, no wildcards"],
  ["field wildcard, exists", "host:web-*   host:*", ""],
  ["comparison", "status>=500   latency<0.25   status!=200", "> >= < <= = !="],
  ["range", "latency:[100 TO 200}   latency:[100 TO *]", "[ ] inclusive, { } exclusive"],
  ["and, or, not", "error AND host:web-1   a OR b   NOT status:200", "NOT binds tighter than AND, AND than OR; adjacent terms are ANDed"],
  ["grouping", "(error OR timeout) AND NOT host:db-*", ""],
  ["SQL over the matches", "status>=500 | select host, count(*) as n group by host order by n desc", "one SELECT without FROM, after the first unquoted |"],
];

export function syntaxHelp() {
  return h("details", { class: "syntax-help", id: "syntax-help" },
    h("summary", {}, "Query syntax"),
    h("table", {},
      h("thead", {}, h("tr", {}, h("th", { scope: "col" }, "construct"), h("th", { scope: "col" }, "example"), h("th", { scope: "col" }, "meaning"))),
      h("tbody", {}, CONSTRUCTS.map(([name, example, meaning]) => h("tr", {}, h("td", {}, name), h("td", {}, h("code", {}, example)), h("td", {}, meaning))))),
    h("p", { class: "hint" }, "Keywords AND, OR, NOT and TO are case-insensitive. Quote words containing : ( ) [ ] { } < > = or \". Press Enter to search, Shift+Enter for a new line; field names complete as you type (Tab or Enter to take one)."));
}
