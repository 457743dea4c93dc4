import Foundation
import HTTPTypes
import Hummingbird

/// A fragment of HTML. Text becomes HTML only through ``escape(_:)`` or the `\(…)` interpolation
/// below, which escapes, so a session name or message body can never inject markup.
struct HTML: Sendable, ExpressibleByStringInterpolation {
    let raw: String

    init(raw: String) { self.raw = raw }
    init(stringLiteral value: String) { self.raw = value }
    init(stringInterpolation: Interpolation) { self.raw = stringInterpolation.output }

    struct Interpolation: StringInterpolationProtocol {
        var output = ""
        init(literalCapacity: Int, interpolationCount: Int) { output.reserveCapacity(literalCapacity * 2) }
        mutating func appendLiteral(_ literal: String) { output += literal }
        mutating func appendInterpolation(_ text: String) { output += HTML.escape(text) }
        mutating func appendInterpolation(_ text: String?) { output += HTML.escape(text ?? "") }
        mutating func appendInterpolation(_ number: Int) { output += String(number) }
        mutating func appendInterpolation(_ html: HTML) { output += html.raw }
        mutating func appendInterpolation(_ parts: [HTML]) { output += parts.map(\.raw).joined() }
    }

    static func escape(_ text: String) -> String {
        var out = ""
        out.reserveCapacity(text.utf8.count)
        for character in text {
            switch character {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            case "'": out += "&#39;"
            default: out.append(character)
            }
        }
        return out
    }
}

/// The panel's frame: navigation, flash message, content; styles and scripts served inline so
/// that one response is one page (and a strict Content-Security-Policy can allow exactly them).
enum AdminLayout {
    enum Section: String, CaseIterable {
        case sessions = "Sessions", keys = "API keys", webhooks = "Webhooks", messages = "Messages"
        var path: String {
            switch self {
            case .sessions: "/admin/sessions"
            case .keys: "/admin/keys"
            case .webhooks: "/admin/webhooks"
            case .messages: "/admin/messages"
            }
        }
    }

    static func page(title: String, section: Section?, csrf: String?, flash: HTML? = nil, status: HTTPResponse.Status = .ok, _ content: HTML) -> Response {
        let navigation: HTML = section == nil ? "" : """
            <nav>\(Section.allCases.map { item -> HTML in
                "<a href=\"\(item.path)\"\(item == section ? HTML(raw: " class=\"active\" aria-current=\"page\"") : "")>\(item.rawValue)</a>"
            })<form method="post" action="/admin/logout" class="logout">\(csrfField(csrf))<button class="link">Log out</button></form></nav>
            """
        let body: HTML = """
            <!doctype html>
            <html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
            <title>\(title) · BuzzBridge admin</title><style>\(HTML(raw: stylesheet))</style></head>
            <body><header><a class="brand" href="/admin">BuzzBridge <span>admin</span></a>\(navigation)</header>
            <main><h1>\(title)</h1>\(flash ?? "")\(content)</main>
            <script>\(HTML(raw: script))</script></body></html>
            """
        var headers = HTTPFields()
        headers[.contentType] = "text/html; charset=utf-8"
        headers[.cacheControl] = "no-store"
        headers[HTTPField.Name("X-Frame-Options")!] = "DENY"
        headers[HTTPField.Name("X-Content-Type-Options")!] = "nosniff"
        headers[HTTPField.Name("Referrer-Policy")!] = "same-origin"
        headers[HTTPField.Name("Content-Security-Policy")!] =
            "default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; img-src 'self' data:; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
        return Response(status: status, headers: headers, body: ResponseBody(byteBuffer: ByteBuffer(string: body.raw)))
    }

    static func csrfField(_ token: String?) -> HTML {
        "<input type=\"hidden\" name=\"_csrf\" value=\"\(token ?? "")\">"
    }

    static func notice(_ text: String, kind: String = "ok") -> HTML {
        "<p class=\"notice \(kind)\" role=\"status\">\(text)</p>"
    }

    static let stylesheet = """
        :root{--ink:#1d2433;--muted:#667085;--line:#e4e7ec;--bg:#f6f7f9;--brand:#128c7e;--brand-dark:#0b6b60;--danger:#c0362c}
        *{box-sizing:border-box}body{margin:0;font:15px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:var(--ink);background:var(--bg)}
        header{display:flex;align-items:center;gap:2rem;padding:.75rem 2rem;background:#fff;border-bottom:1px solid var(--line)}
        .brand{font-weight:700;color:var(--brand);text-decoration:none;font-size:1.1rem}.brand span{color:var(--muted);font-weight:500}
        nav{display:flex;align-items:center;gap:1.25rem;flex:1}nav a{color:var(--muted);text-decoration:none;padding:.25rem 0;border-bottom:2px solid transparent}
        nav a.active,nav a:hover{color:var(--ink);border-color:var(--brand)}.logout{margin-left:auto}
        main{max-width:1100px;margin:2rem auto;padding:0 2rem}h1{font-size:1.5rem;margin:0 0 1.25rem}h2{font-size:1.1rem;margin:2rem 0 .75rem}
        table{width:100%;border-collapse:collapse;background:#fff;border:1px solid var(--line);border-radius:8px;overflow:hidden}
        th,td{text-align:left;padding:.6rem .8rem;border-bottom:1px solid var(--line);vertical-align:top}th{background:#fafbfc;font-size:.8rem;text-transform:uppercase;letter-spacing:.04em;color:var(--muted)}
        tr:last-child td{border-bottom:0}.card{background:#fff;border:1px solid var(--line);border-radius:8px;padding:1.25rem;margin-bottom:1.25rem}
        form.inline{display:inline}label{display:block;font-weight:600;margin:.6rem 0 .25rem}.hint{color:var(--muted);font-size:.85rem}
        input[type=text],input[type=password],input[type=url],input[type=number],select{width:100%;max-width:28rem;padding:.5rem .6rem;border:1px solid #cfd4dc;border-radius:6px;font:inherit}
        .checks label{display:inline-flex;gap:.35rem;font-weight:400;margin-right:1rem}
        button{font:inherit;padding:.45rem .9rem;border-radius:6px;border:1px solid var(--brand);background:var(--brand);color:#fff;cursor:pointer}
        button:hover{background:var(--brand-dark)}button.secondary{background:#fff;color:var(--ink);border-color:#cfd4dc}button.danger{background:#fff;color:var(--danger);border-color:var(--danger)}
        button.link{background:none;border:0;color:var(--muted);padding:0}.row{display:flex;gap:.5rem;flex-wrap:wrap;align-items:center;margin-top:1rem}
        .badge{display:inline-block;padding:.05rem .5rem;border-radius:99px;font-size:.8rem;background:#eef0f3;color:var(--muted)}
        .badge.active,.badge.delivered,.badge.sent,.badge.read{background:#e3f6ef;color:#0b6b60}.badge.pending,.badge.unread{background:#fff4d6;color:#8a5b00}
        .badge.disconnected,.badge.failed,.badge.revoked,.badge.expired{background:#fde8e7;color:var(--danger)}
        .notice{padding:.75rem 1rem;border-radius:6px;background:#e3f6ef;border:1px solid #b7e4d2}.notice.error{background:#fde8e7;border-color:#f5c2bf}
        .notice.muted{background:#fff;border-color:var(--line);color:var(--muted)}.filters input{margin:0}
        code,.secret{font-family:ui-monospace,SFMono-Regular,Menlo,monospace;font-size:.9rem}.secret{display:block;padding:.6rem;background:#f2f4f7;border-radius:6px;word-break:break-all;margin:.5rem 0}
        .qr{display:flex;gap:2rem;align-items:center}.qr img{width:264px;height:264px;image-rendering:pixelated;border:1px solid var(--line);border-radius:8px;background:#fff}
        .login{max-width:24rem;margin:4rem auto}.muted{color:var(--muted)}.filters{display:flex;gap:1rem;flex-wrap:wrap;align-items:flex-end}.filters label{margin-top:0}
        """

    /// Copy buttons, and the QR code that refreshes itself until the phone has scanned it.
    static let script = """
        document.querySelectorAll('[data-copy]').forEach(function(button){button.addEventListener('click',function(){
          var text=document.getElementById(button.dataset.copy).textContent;
          navigator.clipboard.writeText(text).then(function(){button.textContent='Copied';});});});
        var qr=document.querySelector('[data-qr-poll]');
        if(qr){var url=qr.dataset.qrPoll;(function poll(){fetch(url,{credentials:'same-origin'}).then(function(r){return r.json();}).then(function(s){
          var status=document.getElementById('session-status');if(status){status.textContent=s.status;status.className='badge '+s.status;}
          if(s.status==='active'){qr.innerHTML='<p class="notice">Connected as '+(s.phone_number||'')+'. Reloading…</p>';setTimeout(function(){location.reload();},800);return;}
          if(s.qr_code){var img=qr.querySelector('img');if(img.getAttribute('src')!==s.qr_code){img.setAttribute('src',s.qr_code);}
            var expiry=document.getElementById('qr-expiry');if(expiry){expiry.textContent=s.expires_at;}}
          setTimeout(poll,2000);}).catch(function(){setTimeout(poll,5000);});})();}
        """
}
