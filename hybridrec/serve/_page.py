"""The one web page of ``hybridrec serve``: pick a user or type a query, see titles, scores and why."""

PAGE = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>hybridrec</title>
<style>
  body { font-family: system-ui, sans-serif; margin: 2rem auto; max-width: 60rem; color: #222; }
  form { display: flex; gap: .5rem; flex-wrap: wrap; align-items: end; margin-bottom: 1rem; }
  label { display: flex; flex-direction: column; font-size: .85rem; }
  input, select, button { font-size: 1rem; padding: .3rem; }
  table { border-collapse: collapse; width: 100%; }
  td, th { border-bottom: 1px solid #ddd; padding: .4rem; text-align: left; vertical-align: top; }
  .why { color: #555; font-size: .85rem; }
  #status { color: #a00; min-height: 1.2rem; }
</style>
</head>
<body>
<h1>hybridrec</h1>
<form id="ask">
  <label>User <select id="user"><option value="">(a text query instead)</option></select></label>
  <label>Query <input id="query" size="32" placeholder="a cosy kitchen knife"></label>
  <label>Domain <select id="domain"><option value="">all</option></select></label>
  <label>k <input id="k" type="number" value="10" min="1" max="100" style="width:4rem"></label>
  <button id="go" type="submit">Recommend</button>
</form>
<div id="status"></div>
<table id="results" hidden>
  <thead><tr><th>#</th><th>item</th><th>domain</th><th>score</th></tr></thead>
  <tbody></tbody>
</table>
<script>
const $ = (id) => document.getElementById(id);
function option(select, value) { const o = document.createElement("option"); o.value = o.textContent = value; select.append(o); }
async function getJSON(url) {
  const response = await fetch(url);
  const body = await response.json();
  if (!response.ok) { throw new Error(typeof body.detail === "string" ? body.detail : JSON.stringify(body.detail)); }
  return body;
}
async function start() {
  const info = await getJSON("/version");
  info.domains.forEach((d) => option($("domain"), d));
  (await getJSON("/users?limit=50")).users.forEach((u) => option($("user"), u));
}
function show(items) {
  const body = $("results").querySelector("tbody");
  body.replaceChildren();
  for (const it of items) {
    const row = body.insertRow();
    row.insertCell().textContent = it.rank;
    const cell = row.insertCell();
    cell.textContent = it.text || it.item_id;
    if (it.explanation) { const why = document.createElement("div"); why.className = "why"; why.textContent = it.explanation; cell.append(why); }
    row.insertCell().textContent = it.domain;
    row.insertCell().textContent = it.score.toFixed(3);
  }
  $("results").hidden = false;
}
$("ask").addEventListener("submit", async (event) => {
  event.preventDefault();
  $("status").textContent = "";
  const params = new URLSearchParams({ k: $("k").value });
  if ($("domain").value) { params.set("domain", $("domain").value); }
  let url;
  if ($("query").value.trim()) { params.set("q", $("query").value); url = "/search?" + params; }
  else if ($("user").value) { params.set("user", $("user").value); params.set("explain", "true"); url = "/recommend?" + params; }
  else { $("status").textContent = "Pick a user or type a query."; return; }
  try { show((await getJSON(url)).items); } catch (error) { $("status").textContent = error.message; }
});
start().catch((error) => { $("status").textContent = error.message; });
</script>
</body>
</html>
"""
