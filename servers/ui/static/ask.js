// Ask: the answer streams into the page from /ask/stream (Server-Sent Events), with no
// reload: the retrieval (filter, chunks) first, then tokens as the model writes, then the
// final answer with its citations, each a piece of HTML rendered by the server.
document.addEventListener("DOMContentLoaded", () => {
  const form = document.getElementById("ask-form");
  const out = document.getElementById("ask-result");
  let source = null;
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    if (source) source.close();
    const q = new FormData(form).get("q");
    out.innerHTML = '<p class="muted" role="status">Retrieving…</p>';
    source = new EventSource(form.dataset.stream + "?" + new URLSearchParams({ q }));
    let tokens = null;
    source.addEventListener("retrieval", (e) => {
      out.innerHTML = e.data + '<div class="answer-text" id="ask-tokens"></div>';
      tokens = document.getElementById("ask-tokens");
    });
    source.addEventListener("token", (e) => { if (tokens) tokens.textContent += JSON.parse(e.data); });
    const finish = (e) => { out.innerHTML = e.data; source.close(); source = null; };
    source.addEventListener("answer", finish);
    source.addEventListener("failure", finish);
    source.onerror = () => {
      if (!source) return;
      source.close();
      source = null;
      out.innerHTML = '<div class="error" role="alert"><strong>Cannot reach the backend.</strong>' +
        '<p class="message">the answer stream was interrupted</p></div>';
    };
  });
});
