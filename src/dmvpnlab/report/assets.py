"""The report page's inline stylesheet and script (no CDN, no web fonts: it must open offline).

The script does one thing: a click (or Enter) on an NHRP message anywhere on the page
(ladder arrow, timeline marker or row) shows that message's decoded fields, read from
the page's embedded JSON, in the side panel.
"""

CSS = """
:root{--ink:#202124;--muted:#5f6368;--line:#dadce0;--bg:#f8f9fa;--panel:#ffffff;--accent:#1a73e8}
*{box-sizing:border-box}
body{margin:0;font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,"DejaVu Sans",sans-serif;color:var(--ink);
 background:var(--bg)}
body{display:grid;grid-template-columns:minmax(0,1fr) 400px;align-items:start}
main{padding:18px 28px 60px}
header.top{background:#174ea6;color:#fff;padding:18px 28px}
header.top h1{margin:0 0 4px;font-size:22px}
header.top .meta{opacity:.9;font-size:13px}
.chips{display:flex;flex-wrap:wrap;gap:8px;margin-top:10px}
.chip{background:rgba(255,255,255,.16);border-radius:14px;padding:3px 11px;font-size:13px}
.chip b{font-size:15px}
section.card{background:var(--panel);border:1px solid var(--line);border-radius:10px;padding:14px 18px;margin:18px 0;
 overflow-x:auto}
h2{font-size:18px;margin:2px 0 10px}
h3{font-size:15px;margin:14px 0 6px}
.caption,.note{color:var(--muted);font-size:12.5px;margin:6px 0}
.note.left-out{color:#b06000}
table{border-collapse:collapse;font-size:13px}
th,td{text-align:left;padding:3px 10px 3px 0;vertical-align:top;border-bottom:1px solid #f1f3f4}
th{color:var(--muted);font-weight:600}
td.num{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
table.events td:nth-child(2){white-space:nowrap}
.outcome-passed{color:#1e8e3e;font-weight:600}.outcome-failed,.outcome-error{color:#c5221f;font-weight:600}
.outcome-skipped{color:#b06000;font-weight:600}
.verdicts .message{white-space:pre-wrap;font-family:ui-monospace,"DejaVu Sans Mono",monospace;font-size:12px;
 color:#5f2120}
.exchange{border-top:1px solid #f1f3f4;padding-top:4px}
.exchange .sum{color:var(--muted);font-size:12.5px}
.incomplete{color:#c5221f;font-weight:600}
section.card svg{max-width:100%;height:auto}
svg text{font-family:system-ui,-apple-system,"Segoe UI",Roboto,"DejaVu Sans",sans-serif}
.nlabel{font-size:13px;font-weight:600;fill:#202124}.naddr{font-size:11px;fill:#5f6368}
.nat{font-size:12px;font-weight:700;fill:#202124}
.lcount{font-size:10.5px;fill:#202124}.legend{font-size:12px;fill:#3c4043}
.link:hover line{filter:brightness(1.2);stroke-opacity:.8}
.lane{fill:#e8f0fe;stroke:#1a73e8}.lane.role-hub{fill:#174ea6;stroke:#174ea6}
.lane.role-spoke{fill:#e6f4ea;stroke:#1e8e3e}
.lname{font-size:13px;font-weight:700;fill:#202124}.lane.role-hub+.lname{fill:#fff}
.lifeline{stroke:#bdc1c6;stroke-dasharray:3 4}
.lhead{font-size:11px;fill:#5f6368;font-weight:600}.ltime{font-size:12px;fill:#202124;font-variant-numeric:tabular-nums}
.lgap{font-size:10.5px;fill:#80868b}
.mlabel{font-size:12px;fill:#202124}
.msg{cursor:pointer}.msg .hit{fill:transparent}.msg:hover .hit,.msg:focus .hit{fill:#fef7e0}
.msg.selected .hit{fill:#fce8b2}.msg:focus{outline:none}
.hop{fill:#f1f3f4;stroke:#9aa0a6}.hop.role-hub{fill:#174ea6;stroke:#174ea6}.hop.role-spoke{fill:#e6f4ea;stroke:#1e8e3e}
.hop.role-host{fill:#fff;stroke:#5f6368}.hop.role-nat{fill:#fde293;stroke:#b06000}
.hopname{font-size:12px;font-weight:600;fill:#202124}.hop.role-hub+.hopname{fill:#fff}
.hoptime{font-size:10.5px;fill:#5f6368}
.plabel{font-size:13px;font-weight:700;fill:#202124}.pinfo{font-size:11.5px;fill:#5f6368}
.tcat{font-size:12px;fill:#3c4043}.trow{stroke:#e8eaed;stroke-width:1}.taxis{stroke:#9aa0a6}
.ttick{font-size:11px;fill:#5f6368}.tmark{cursor:pointer}
tr.ev[data-msg]{cursor:pointer}tr.ev[data-msg]:hover{background:#fef7e0}
.cat{display:inline-block;width:10px;height:10px;border-radius:5px;margin-right:6px}
aside#panel{position:sticky;top:0;max-height:100vh;min-height:60vh;overflow-y:auto;background:#fff;
 border-left:1px solid var(--line);padding:16px 18px;box-shadow:-2px 0 8px rgba(0,0,0,.05)}
aside#panel h2{font-size:16px}
aside#panel .empty{color:var(--muted)}
aside#panel table{width:100%;margin-bottom:10px}
aside#panel td:first-child{color:var(--muted);white-space:nowrap;width:40%}
aside#panel td{font-family:ui-monospace,"DejaVu Sans Mono",monospace;font-size:12px;word-break:break-all}
aside#panel h3{font-size:13px;text-transform:uppercase;letter-spacing:.04em;color:#3c4043;margin:12px 0 4px}
details summary{cursor:pointer;color:var(--accent)}
"""

JS = """
(function(){
  var data = JSON.parse(document.getElementById('nhrp-data').textContent);
  var panel = document.getElementById('panel');
  function esc(s){return String(s).replace(/[&<>"]/g,function(c){return {'&':'&amp;','<':'&lt;','>':'&gt;','"':'&quot;'}[c];});}
  function table(rows){
    var h = '<table>';
    rows.forEach(function(r){h += '<tr><td>'+esc(r[0])+'</td><td>'+esc(r[1])+'</td></tr>';});
    return h + '</table>';
  }
  function show(id){
    var m = data[id];
    if(!m){return;}
    var h = '<h2 id="panel-title">'+esc(m.name)+'</h2>';
    h += '<div class="caption">'+esc(m.sender)+' \\u2192 '+esc(m.receiver)+' at '+esc(m.time)+'</div>';
    m.sections.forEach(function(s){
      h += '<h3>'+esc(s.title)+'</h3>';
      h += s.rows.length ? table(s.rows) : '<div class="empty">none</div>';
    });
    panel.innerHTML = h;
    panel.setAttribute('data-shown', id);
    document.querySelectorAll('.msg.selected').forEach(function(e){e.classList.remove('selected');});
    document.querySelectorAll('.msg[data-msg="'+id+'"]').forEach(function(e){e.classList.add('selected');});
  }
  document.addEventListener('click', function(ev){
    var t = ev.target.closest ? ev.target.closest('[data-msg]') : null;
    if(t){show(t.getAttribute('data-msg'));}
  });
  document.addEventListener('keydown', function(ev){
    if(ev.key !== 'Enter'){return;}
    var t = document.activeElement;
    if(t && t.getAttribute && t.getAttribute('data-msg') !== null){show(t.getAttribute('data-msg'));}
  });
})();
"""
