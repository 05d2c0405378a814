/*
 * Markdown, the part of it answers use: paragraphs and line breaks, bulleted and numbered
 * lists (nested by indentation), block quotes, fenced code, headings (shown as bold lines),
 * **bold**, *italic*, `code`, [links](https://...), <https://...>, bare URLs and citation
 * markers [n]. Everything becomes DOM nodes; HTML in an answer is shown as the text it is.
 *
 * markdown(parent, text, cite): cite(n) returns the node for citation marker [n], or null to
 * leave "[n]" as text.
 */
var LIST_ITEM = /^( *)([-*+]|\d{1,9}[.)])[ \t]+(.*)$/;
var FENCE = /^ {0,3}(```|~~~)/;
var HEADING = /^ {0,3}#{1,6}[ \t]+(.*?)[ \t#]*$/;
var QUOTE = /^ {0,3}>/;
var INLINE = new RegExp(
  [
    // 1, 2: `code`
    "(`+)([\\s\\S]*?[^`])\\1(?!`)",
    // 3, 4: **bold** __bold__
    "\\*\\*(?=\\S)([\\s\\S]*?\\S)\\*\\*",
    "\\b__(?=\\S)([\\s\\S]*?\\S)__\\b",
    // 5, 6: *italic* _italic_
    "\\*(?=[^\\s*])([\\s\\S]*?[^\\s*])\\*",
    "\\b_(?=\\S)([\\s\\S]*?\\S)_\\b",
    // 7, 8: [text](url "title")
    "\\[([^\\]\\n]+)\\]\\(\\s*<?([^\\s()<>]+(?:\\([^\\s()<>]*\\))?)>?(?:\\s+\"[^\"]*\")?\\s*\\)",
    // 9: <https://...>
    "<((?:https?:\\/\\/|mailto:)[^\\s<>]+)>",
    // 10: [n]
    "\\[(\\d{1,3})\\]",
    // 11: a bare URL
    "((?:https?:\\/\\/|www\\.)[^\\s<>\"]+)",
    // 12: \* and friends
    "\\\\([\\\\`*_{}\\[\\]()#+\\-.!>~|])"
  ].join("|"),
  "g"
);

function indentOf(line) {
  return line.match(/^ */)[0].length;
}

function startsBlock(line) {
  var item = LIST_ITEM.exec(line);
  // a numbered line interrupts a paragraph only when it starts a list at 1 ("2024. was...")
  return (item && (!/\d/.test(item[2]) || parseInt(item[2], 10) === 1)) ||
    FENCE.test(line) || HEADING.test(line) || QUOTE.test(line);
}

function markdown(parent, text, cite) {
  blocks(parent, String(text || "").replace(/\r\n?/g, "\n").replace(/\t/g, "    ").split("\n"), cite);
}

function blocks(parent, lines, cite) {
  var i = 0;
  var found;
  while (i < lines.length) {
    var line = lines[i];
    if (!line.trim()) {
      i++;
    } else if ((found = FENCE.exec(line))) {
      var code = [];
      var fence = found[1];
      for (i++; i < lines.length && lines[i].trim().indexOf(fence) !== 0; i++) {
        code.push(lines[i]);
      }
      i++;
      parent.appendChild(el("pre", {}, [el("code", { text: code.join("\n") })]));
    } else if ((found = HEADING.exec(line))) {
      var heading = el("p", { class: "h" });
      inline(heading, found[1], cite);
      parent.appendChild(heading);
      i++;
    } else if (QUOTE.test(line)) {
      var quoted = [];
      for (; i < lines.length && QUOTE.test(lines[i]); i++) {
        quoted.push(lines[i].replace(/^ {0,3}> ?/, ""));
      }
      var quote = el("blockquote");
      blocks(quote, quoted, cite);
      parent.appendChild(quote);
    } else if (LIST_ITEM.test(line)) {
      i = list(parent, lines, i, cite);
    } else {
      var paragraph = el("p");
      var first = true;
      for (; i < lines.length && lines[i].trim() && (first || !startsBlock(lines[i])); i++) {
        if (!first) {
          paragraph.appendChild(el("br"));
        }
        inline(paragraph, lines[i].trim(), cite);
        first = false;
      }
      parent.appendChild(paragraph);
    }
  }
}

function list(parent, lines, i, cite) {
  var head = LIST_ITEM.exec(lines[i]);
  var indent = head[1].length;
  var ordered = /\d/.test(head[2]);
  var node = el(ordered ? "ol" : "ul");
  if (ordered && parseInt(head[2], 10) !== 1) {
    node.setAttribute("start", String(parseInt(head[2], 10)));
  }
  parent.appendChild(node);
  var item;
  while (i < lines.length && (item = LIST_ITEM.exec(lines[i])) &&
    item[1].length === indent && /\d/.test(item[2]) === ordered) {
    var offset = indent + item[2].length + 1;
    var body = [item[3]];
    var loose = false;
    for (i++; i < lines.length; i++) {
      var line = lines[i];
      if (!line.trim()) {
        var next = i;
        while (next < lines.length && !lines[next].trim()) {
          next++;
        }
        if (next < lines.length && indentOf(lines[next]) >= offset) {
          loose = true;
          body.push("");
          continue;
        }
        break;
      }
      if (indentOf(line) > indent) {
        body.push(line.slice(Math.min(indentOf(line), offset)));
      } else if (LIST_ITEM.test(line)) {
        // the next item (of this list, or one that ends it)
        break;
      } else if (!startsBlock(line) && body[body.length - 1] !== "") {
        // a lazy continuation of the item's paragraph
        body.push(line.trim());
      } else {
        break;
      }
    }
    var li = el("li");
    blocks(li, body, cite);
    // a tight item holds its first paragraph's text directly
    if (!loose && li.firstChild && li.firstChild.nodeName === "P") {
      var paragraph = li.firstChild;
      while (paragraph.firstChild) {
        li.insertBefore(paragraph.firstChild, paragraph);
      }
      li.removeChild(paragraph);
    }
    node.appendChild(li);
    // blank lines between items of the same list
    var after = i;
    while (after < lines.length && !lines[after].trim()) {
      after++;
    }
    var again = after < lines.length && LIST_ITEM.exec(lines[after]);
    if (again && again[1].length === indent && /\d/.test(again[2]) === ordered) {
      i = after;
    }
  }
  return i;
}

// Trailing punctuation ends a sentence, not a URL; a closing bracket stays if it has its pair.
function trimUrl(url) {
  for (;;) {
    var end = url.slice(-1);
    if (!/[.,;:!?'*_)\]]/.test(end)) {
      return url;
    }
    if (end === ")" && url.split("(").length >= url.split(")").length) {
      return url;
    }
    url = url.slice(0, -1);
  }
}

function inline(parent, text, cite, inLink) {
  var pattern = new RegExp(INLINE.source, "g");
  var last = 0;
  var m;
  while ((m = pattern.exec(text))) {
    var node = null;
    var end = pattern.lastIndex;
    if (m[2] !== undefined) {
      node = el("code", { text: m[2].replace(/^ (.*) $/, "$1") });
    } else if (m[3] !== undefined || m[4] !== undefined) {
      node = el("strong");
      inline(node, m[3] || m[4], cite, inLink);
    } else if (m[5] !== undefined || m[6] !== undefined) {
      node = el("em");
      inline(node, m[5] || m[6], cite, inLink);
    } else if (m[7] !== undefined) {
      var href = !inLink && safeUrl(m[8]);
      node = href ? link(href) : el("span");
      inline(node, m[7], cite, true);
    } else if (m[9] !== undefined) {
      node = inLink ? doc.createTextNode(m[9]) : link(m[9], m[9].replace(/^mailto:/i, ""));
    } else if (m[10] !== undefined) {
      node = inLink ? null : cite(parseInt(m[10], 10));
    } else if (m[11] !== undefined) {
      var url = trimUrl(m[11]);
      end = m.index + url.length;
      pattern.lastIndex = end;
      if (!inLink && url.length > 4) {
        node = link(/^www\./i.test(url) ? "https://" + url : url, url);
      }
    } else if (m[12] !== undefined) {
      node = doc.createTextNode(m[12]);
    }
    if (!node) {
      continue;
    }
    if (m.index > last) {
      parent.appendChild(doc.createTextNode(text.slice(last, m.index)));
    }
    parent.appendChild(node);
    last = end;
  }
  if (last < text.length) {
    parent.appendChild(doc.createTextNode(text.slice(last)));
  }
}
