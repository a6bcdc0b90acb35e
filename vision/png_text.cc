// PNG text chunks: a bounded chunk walk (CRC-checked) plus zlib inflate for zTXt/iTXt, and the
// Latin-1/UTF-8 conversions PNG's keyword rules need.
#include "vision/png_text.h"

#include <zlib.h>

#include <cstdint>
#include <cstring>

namespace duet::vision {
namespace {

constexpr std::string_view kPngSignature("\x89PNG\r\n\x1a\n", 8);
constexpr size_t kPngMaxKeywordChars = 79;
constexpr uint32_t kPngMaxChunkLength = 0x7fffffff;  // PNG spec: lengths fit in 31 bits.

uint32_t ReadBigEndian32(const char* p) {
  const auto* u = reinterpret_cast<const unsigned char*>(p);
  return (uint32_t{u[0]} << 24) | (uint32_t{u[1]} << 16) | (uint32_t{u[2]} << 8) | u[3];
}

// Decodes one UTF-8 code point at text[*pos], advancing *pos. False on any invalid sequence
// (overlong forms, surrogates, values above U+10FFFF, truncation).
bool NextCodePoint(std::string_view text, size_t* pos, uint32_t* code_point) {
  const auto lead = static_cast<unsigned char>(text[*pos]);
  int extra = 0;
  uint32_t value = 0;
  uint32_t min_value = 0;
  if (lead < 0x80) {
    value = lead;
  } else if ((lead & 0xE0) == 0xC0) {
    extra = 1, value = lead & 0x1F, min_value = 0x80;
  } else if ((lead & 0xF0) == 0xE0) {
    extra = 2, value = lead & 0x0F, min_value = 0x800;
  } else if ((lead & 0xF8) == 0xF0) {
    extra = 3, value = lead & 0x07, min_value = 0x10000;
  } else {
    return false;
  }
  if (text.size() - *pos <= static_cast<size_t>(extra)) return false;  // Truncated sequence.
  for (int i = 1; i <= extra; ++i) {
    const auto next = static_cast<unsigned char>(text[*pos + i]);
    if ((next & 0xC0) != 0x80) return false;
    value = (value << 6) | (next & 0x3F);
  }
  if (value < min_value || value > 0x10FFFF || (value >= 0xD800 && value <= 0xDFFF)) return false;
  *pos += extra + 1;
  *code_point = value;
  return true;
}

std::string Latin1ToUtf8(std::string_view latin1) {
  std::string out;
  out.reserve(latin1.size());
  for (const char c : latin1) {
    const auto u = static_cast<unsigned char>(c);
    if (u < 0x80) {
      out.push_back(c);
    } else {
      out.push_back(static_cast<char>(0xC0 | (u >> 6)));
      out.push_back(static_cast<char>(0x80 | (u & 0x3F)));
    }
  }
  return out;
}

// Inflates a zlib stream and subtracts its size from *budget_left; InvalidArgument on corrupt data
// or when the output would exceed the remaining budget.
StatusOr<std::string> Inflate(std::string_view compressed, size_t* budget_left) {
  z_stream stream;
  std::memset(&stream, 0, sizeof(stream));
  if (inflateInit(&stream) != Z_OK) return absl::InternalError("zlib inflateInit failed");
  stream.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(compressed.data()));
  stream.avail_in = static_cast<uInt>(compressed.size());
  std::string out;
  char buffer[16384];
  int rc = Z_OK;
  while (rc == Z_OK) {
    stream.next_out = reinterpret_cast<Bytef*>(buffer);
    stream.avail_out = sizeof(buffer);
    rc = inflate(&stream, Z_NO_FLUSH);
    const size_t produced = sizeof(buffer) - stream.avail_out;
    if (out.size() + produced > *budget_left) {
      inflateEnd(&stream);
      return absl::InvalidArgumentError(
          absl::StrCat("PNG text decompresses to more than ", kPngTextMaxBytes, " bytes"));
    }
    out.append(buffer, produced);  // Z_BUF_ERROR (input ended early) leaves the loop too.
  }
  inflateEnd(&stream);
  if (rc != Z_STREAM_END) return absl::InvalidArgumentError("PNG text chunk has corrupt zlib data");
  *budget_left -= out.size();
  return out;
}

// Splits `data` at the first NUL at or after `from`: returns the part before it and moves `from`
// past it. InvalidArgument naming `chunk` when there is none.
StatusOr<std::string_view> TakeNulTerminated(std::string_view data, size_t* from,
                                             const char* chunk) {
  const size_t nul = data.find('\0', *from);
  if (nul == std::string_view::npos) {
    return absl::InvalidArgumentError(absl::StrCat("PNG ", chunk, " chunk is malformed"));
  }
  std::string_view part = data.substr(*from, nul - *from);
  *from = nul + 1;
  return part;
}

// Parses one tEXt, zTXt or iTXt payload into a UTF-8 entry.
StatusOr<PngTextEntry> ParseTextChunk(std::string_view type, std::string_view data,
                                      size_t* budget_left) {
  const std::string chunk(type);
  size_t pos = 0;
  DUET_ASSIGN_OR_RETURN(const std::string_view keyword,
                        TakeNulTerminated(data, &pos, chunk.c_str()));
  PngTextEntry entry{Latin1ToUtf8(keyword), ""};
  const auto malformed =
      absl::InvalidArgumentError(absl::StrCat("PNG ", chunk, " chunk is malformed"));
  if (type == "tEXt") {
    entry.second = Latin1ToUtf8(data.substr(pos));
  } else if (type == "zTXt") {
    if (pos >= data.size() || data[pos] != 0) return malformed;  // Method 0 (zlib) only.
    DUET_ASSIGN_OR_RETURN(const std::string text, Inflate(data.substr(pos + 1), budget_left));
    entry.second = Latin1ToUtf8(text);
  } else {  // iTXt: compression flag, method, language tag, translated keyword, text.
    if (pos + 2 > data.size()) return malformed;
    const bool compressed = data[pos] != 0;
    if (compressed && data[pos + 1] != 0) return malformed;
    pos += 2;
    DUET_RETURN_IF_ERROR(TakeNulTerminated(data, &pos, "iTXt").status());  // Language tag.
    DUET_RETURN_IF_ERROR(TakeNulTerminated(data, &pos, "iTXt").status());  // Translated keyword.
    if (compressed) {
      DUET_ASSIGN_OR_RETURN(entry.second, Inflate(data.substr(pos), budget_left));
    } else {
      entry.second = std::string(data.substr(pos));
    }
  }
  return entry;
}

}  // namespace

StatusOr<std::vector<PngTextEntry>> ReadPngText(std::string_view png_bytes) {
  if (png_bytes.substr(0, kPngSignature.size()) != kPngSignature) {
    return absl::InvalidArgumentError("data is not a PNG file (bad signature)");
  }
  std::vector<PngTextEntry> entries;
  size_t budget_left = kPngTextMaxBytes;
  size_t pos = kPngSignature.size();
  while (true) {
    if (png_bytes.size() - pos < 12) {
      return absl::InvalidArgumentError("PNG data is truncated (no IEND chunk)");
    }
    const uint32_t length = ReadBigEndian32(png_bytes.data() + pos);
    if (length > kPngMaxChunkLength || png_bytes.size() - pos - 12 < length) {
      return absl::InvalidArgumentError("PNG data is truncated (a chunk runs past the end)");
    }
    const std::string_view type = png_bytes.substr(pos + 4, 4);
    const std::string_view data = png_bytes.substr(pos + 8, length);
    if (type == "IEND") break;
    if (type == "tEXt" || type == "zTXt" || type == "iTXt") {
      const uint32_t crc = ReadBigEndian32(png_bytes.data() + pos + 8 + length);
      const uLong actual = crc32(0L, reinterpret_cast<const Bytef*>(type.data()), length + 4);
      if (actual != crc) {
        return absl::InvalidArgumentError(
            absl::StrCat("PNG ", std::string(type), " chunk has a bad CRC"));
      }
      DUET_ASSIGN_OR_RETURN(PngTextEntry entry, ParseTextChunk(type, data, &budget_left));
      entries.push_back(std::move(entry));
    }
    pos += 12 + size_t{length};
  }
  return entries;
}

PngTextEntry PngXmpAiMarker() {
  return {kPngXmpKeyword,
          "<?xpacket begin=\"\xEF\xBB\xBF\" id=\"W5M0MpCehiHzreSzNTczkc9d\"?>\n"
          "<x:xmpmeta xmlns:x=\"adobe:ns:meta/\">\n"
          " <rdf:RDF xmlns:rdf=\"http://www.w3.org/1999/02/22-rdf-syntax-ns#\">\n"
          "  <rdf:Description rdf:about=\"\"\n"
          "    xmlns:Iptc4xmpExt=\"http://iptc.org/std/Iptc4xmpExt/2008-02-29/\"\n"
          "    Iptc4xmpExt:DigitalSourceType="
          "\"http://cv.iptc.org/newscodes/digitalsourcetype/trainedAlgorithmicMedia\"/>\n"
          " </rdf:RDF>\n"
          "</x:xmpmeta>\n"
          "<?xpacket end=\"r\"?>"};
}

StatusOr<std::string> PngKeywordFromUtf8(std::string_view keyword) {
  const auto bad = [&](const char* why) {
    return absl::InvalidArgumentError(
        absl::StrCat("PNG text keyword '", std::string(keyword), "' ", why));
  };
  std::string latin1;
  size_t pos = 0;
  while (pos < keyword.size()) {
    uint32_t code_point = 0;
    if (!NextCodePoint(keyword, &pos, &code_point)) return bad("is not valid UTF-8");
    const bool printable =
        (code_point >= 0x20 && code_point <= 0x7E) || (code_point >= 0xA1 && code_point <= 0xFF);
    if (!printable) return bad("has a character outside printable Latin-1");
    if (code_point == ' ' && (latin1.empty() || latin1.back() == ' ')) {
      return bad("has a leading or doubled space");
    }
    latin1.push_back(static_cast<char>(code_point));
  }
  if (latin1.empty() || latin1.size() > kPngMaxKeywordChars) {
    return bad("must be 1 to 79 characters");
  }
  if (latin1.back() == ' ') return bad("has a trailing space");
  return latin1;
}

Status CheckUtf8Text(std::string_view text, const std::string& field) {
  size_t pos = 0;
  while (pos < text.size()) {
    uint32_t code_point = 0;
    if (!NextCodePoint(text, &pos, &code_point) || code_point == 0) {
      return absl::InvalidArgumentError(
          absl::StrCat(field, " is not valid UTF-8 without NUL bytes (at byte ", pos, ")"));
    }
  }
  return absl::OkStatus();
}

}  // namespace duet::vision
