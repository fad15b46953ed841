#pragma once
// The XML S3 speaks, read and written with Boost.PropertyTree's XML parser
// (never by hand). Every parser here is given a body already bounded in size
// (HttpClient caps it) and refuses nesting deeper than S3 ever sends, so a
// hostile body cannot exhaust the stack of the recursive parser either.
// Malformed input is CorruptionError(corrupt_data) naming the element.

#include <ckpt/error.hpp>

// Boost.MultiIndex (inside PropertyTree) trips GCC's -Wnull-dereference after
// inlining; the warning is Boost's, not ours.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wnull-dereference"
#endif
#include <boost/property_tree/ptree.hpp>
#include <boost/property_tree/xml_parser.hpp>
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic pop
#endif

#include <charconv>
#include <cstdint>
#include <optional>
#include <sstream>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace ckpt::s3::detail {

using boost::property_tree::ptree;

/// S3 responses nest four or five levels; anything deeper is not one of them.
inline constexpr int max_xml_depth = 16;

/// The element depth of `body`, stopping once it exceeds `limit`. Quoted
/// attribute values, comments, CDATA and declarations do not count.
inline int xml_depth(std::string_view body, int limit = max_xml_depth) {
  int depth = 0, deepest = 0;
  std::size_t i = 0;
  const auto skip_past = [&](std::string_view end) {
    const auto p = body.find(end, i);
    i = p == std::string_view::npos ? body.size() : p + end.size();
  };
  while (i < body.size() && deepest <= limit) {
    if (body[i] != '<') {
      ++i;
      continue;
    }
    const auto rest = body.substr(i);
    if (rest.starts_with("<!--")) { skip_past("-->"); continue; }
    if (rest.starts_with("<![CDATA[")) { skip_past("]]>"); continue; }
    if (rest.starts_with("<?")) { skip_past("?>"); continue; }
    if (rest.starts_with("<!")) { skip_past(">"); continue; }
    const bool closing = rest.starts_with("</");
    // Walk to the tag's end, stepping over quoted attribute values.
    bool self_closing = false;
    ++i;
    while (i < body.size() && body[i] != '>') {
      if (body[i] == '"' || body[i] == '\'') {
        const char q = body[i];
        const auto p = body.find(q, i + 1);
        i = p == std::string_view::npos ? body.size() : p + 1;
        continue;
      }
      self_closing = body[i] == '/' && i + 1 < body.size() && body[i + 1] == '>';
      ++i;
    }
    ++i;
    if (closing) {
      --depth;
    } else if (!self_closing) {
      ++depth;
      if (depth > deepest) deepest = depth;
    }
  }
  return deepest;
}

inline CorruptionError xml_error(std::string_view element, const std::string& why) {
  return CorruptionError(errc::corrupt_data, "", std::string(element),
                         "malformed " + std::string(element) + " response: " + why);
}

/// Parses a bounded body; `root` must be the document element.
inline ptree parse_xml(std::string_view body, std::string_view root) {
  if (xml_depth(body) > max_xml_depth)
    throw xml_error(root, "elements nest deeper than " + std::to_string(max_xml_depth) + " levels");
  ptree tree;
  try {
    std::istringstream in{std::string(body)};
    boost::property_tree::read_xml(in, tree);
  } catch (const boost::property_tree::xml_parser_error& e) {
    throw xml_error(root, "not well-formed XML (" + e.message() + ", line " + std::to_string(e.line()) + ")");
  }
  auto child = tree.get_child_optional(boost::property_tree::path(std::string(root), '\0'));
  if (!child) throw xml_error(root, "the document element is not <" + std::string(root) + ">");
  return *child;
}

/// The text of the first child element `name` of `node`, if any.
inline std::optional<std::string> text(const ptree& node, std::string_view name) {
  for (const auto& [n, child] : node)
    if (n == name) return child.data();
  return std::nullopt;
}

inline std::uint64_t number(const ptree& node, std::string_view name, std::string_view element) {
  const auto t = text(node, name);
  if (!t) throw xml_error(element, "<" + std::string(name) + "> is missing");
  std::uint64_t v = 0;
  const auto [p, ec] = std::from_chars(t->data(), t->data() + t->size(), v);
  if (ec != std::errc() || p != t->data() + t->size())
    throw xml_error(element, "<" + std::string(name) + "> is not a non-negative integer");
  return v;
}

inline bool boolean(const ptree& node, std::string_view name) {
  const auto t = text(node, name);
  return t && *t == "true";
}

/// <Error><Code/><Message/><RequestId/></Error>; empty fields when the body
/// is not one (a proxy's HTML page, nothing at all). Never throws.
struct ErrorBody {
  std::string code, message, request_id;
};
inline ErrorBody parse_error(std::string_view body) noexcept {
  ErrorBody out;
  try {
    const auto node = parse_xml(body, "Error");
    out.code = text(node, "Code").value_or("");
    out.message = text(node, "Message").value_or("");
    out.request_id = text(node, "RequestId").value_or("");
  } catch (...) {
  }
  return out;
}

struct ObjectSummary {
  std::string key;
  std::uint64_t size = 0;
  std::string etag;
};
struct ListPage {
  std::vector<ObjectSummary> objects;
  std::vector<std::string> prefixes;
  bool truncated = false;
  std::string next_token;
};
inline ListPage parse_list_objects(std::string_view body) {
  const char* const element = "ListBucketResult";
  const auto root = parse_xml(body, element);
  ListPage page;
  page.truncated = boolean(root, "IsTruncated");
  page.next_token = text(root, "NextContinuationToken").value_or("");
  for (const auto& [name, child] : root) {
    if (name == "Contents") {
      auto key = text(child, "Key");
      if (!key) throw xml_error(element, "<Contents> without <Key>");
      page.objects.push_back({std::move(*key), number(child, "Size", element), text(child, "ETag").value_or("")});
    } else if (name == "CommonPrefixes") {
      auto prefix = text(child, "Prefix");
      if (!prefix) throw xml_error(element, "<CommonPrefixes> without <Prefix>");
      page.prefixes.push_back(std::move(*prefix));
    }
  }
  if (page.truncated && page.next_token.empty())
    throw xml_error(element, "<IsTruncated> is true but there is no <NextContinuationToken>");
  return page;
}

inline std::string parse_upload_id(std::string_view body) {
  const auto root = parse_xml(body, "InitiateMultipartUploadResult");
  auto id = text(root, "UploadId");
  if (!id || id->empty()) throw xml_error("InitiateMultipartUploadResult", "<UploadId> is missing");
  return *id;
}

/// CompleteMultipartUpload answers 200 and then either a result or an <Error>.
struct CompleteResult {
  std::string etag;
  std::optional<ErrorBody> error;
};
inline CompleteResult parse_complete(std::string_view body) {
  if (xml_depth(body) <= max_xml_depth) {
    const auto error = parse_error(body);
    if (!error.code.empty()) return {{}, error};
  }
  const auto root = parse_xml(body, "CompleteMultipartUploadResult");
  return {text(root, "ETag").value_or(""), std::nullopt};
}

struct DeleteFailure {
  std::string key, code, message;
};
inline std::vector<DeleteFailure> parse_delete_result(std::string_view body) {
  const auto root = parse_xml(body, "DeleteResult");
  std::vector<DeleteFailure> out;
  for (const auto& [name, child] : root)
    if (name == "Error")
      out.push_back({text(child, "Key").value_or(""), text(child, "Code").value_or(""),
                     text(child, "Message").value_or("")});
  return out;
}

struct UploadSummary {
  std::string key, upload_id;
};
struct UploadsPage {
  std::vector<UploadSummary> uploads;
  bool truncated = false;
  std::string next_key_marker, next_upload_id_marker;
};
inline UploadsPage parse_list_uploads(std::string_view body) {
  const char* const element = "ListMultipartUploadsResult";
  const auto root = parse_xml(body, element);
  UploadsPage page;
  page.truncated = boolean(root, "IsTruncated");
  page.next_key_marker = text(root, "NextKeyMarker").value_or("");
  page.next_upload_id_marker = text(root, "NextUploadIdMarker").value_or("");
  for (const auto& [name, child] : root) {
    if (name != "Upload") continue;
    auto key = text(child, "Key");
    auto id = text(child, "UploadId");
    if (!key || !id) throw xml_error(element, "<Upload> without <Key> or <UploadId>");
    page.uploads.push_back({std::move(*key), std::move(*id)});
  }
  if (page.truncated && page.next_key_marker.empty())
    throw xml_error(element, "<IsTruncated> is true but there is no <NextKeyMarker>");
  return page;
}

inline std::string write_xml(const ptree& tree) {
  std::ostringstream out;
  boost::property_tree::write_xml(out, tree);
  return out.str();
}

/// <CompleteMultipartUpload> listing (part number, ETag) in order.
inline std::string complete_body(const std::vector<std::pair<int, std::string>>& parts) {
  ptree list;
  for (const auto& [number, etag] : parts) {
    ptree part;
    part.put("PartNumber", number);
    part.put("ETag", etag);
    list.push_back({"Part", std::move(part)});
  }
  ptree doc;
  doc.push_back({"CompleteMultipartUpload", std::move(list)});
  return write_xml(doc);
}

/// <Delete> of up to 1000 keys, quiet (only failures are reported).
inline std::string delete_body(const std::vector<std::string>& keys) {
  ptree del;
  del.put("Quiet", "true");
  for (const auto& key : keys) {
    ptree object;
    object.push_back({"Key", ptree(key)});
    del.push_back({"Object", std::move(object)});
  }
  ptree doc;
  doc.push_back({"Delete", std::move(del)});
  return write_xml(doc);
}

}  // namespace ckpt::s3::detail
