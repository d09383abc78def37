#include "uploadbody.h"

#include "api/apiroute.h"

#include <cstring>

namespace Ferry {

namespace {

Http::Response badForm(const QString &message)
{
    return Api::error(400, "Bad request", message, "invalid_form");
}

} // namespace

UploadBody::UploadBody(Options options, std::unique_ptr<BlobWriter> writer, QuotaHold quota)
    : m_options(std::move(options)), m_writer(std::move(writer)), m_quota(std::move(quota))
{
    if (!m_writer)
        m_hash = std::make_unique<Sha256>();
    if (!m_options.boundary.isEmpty()) {
        MultipartReader::Sink &sink = *this;
        m_form = std::make_unique<MultipartReader>(m_options.boundary, sink);
    }
}

// An uncommitted writer removes its file; the hold gives back what it still holds.
UploadBody::~UploadBody() = default;

bool UploadBody::refuse(Http::Response response)
{
    if (!m_refusal)
        m_refusal = std::move(response);
    return false;
}

bool UploadBody::store(QByteArrayView data)
{
    if (m_head.size() < 2) {
        m_head.append(data.first(std::min<qsizetype>(2 - m_head.size(), data.size())));
        if (m_options.gzipEncoded && m_head.size() == 2 && !contentIsGzip()) {
            return refuse(Api::error(400, "Bad request",
                                     QStringLiteral("The body is sent with 'Content-Encoding: "
                                                    "gzip' but is not gzip data. Send it "
                                                    "compressed, or without that header."),
                                     "invalid_encoding"));
        }
    }
    m_contentBytes += data.size();
    if (!m_sawLineBreak) {
        m_sawLineBreak = std::memchr(data.data(), '\n', size_t(data.size())) ||
                         std::memchr(data.data(), '\r', size_t(data.size()));
    }
    if (m_hash) {
        m_hash->addData(data);
        return true;
    }
    if (auto written = m_writer->write(data.data(), data.size()); !written)
        return refuse(Api::fromError(written.error()));
    return true;
}

bool UploadBody::write(QByteArrayView data)
{
    if (m_refusal)
        return false;
    if (!m_form)
        return store(data);
    if (m_form->feed(data))
        return true;
    if (!m_form->refusedBySink())
        refuse(badForm(m_form->error()));
    return false;
}

bool UploadBody::finish()
{
    if (m_refusal)
        return false;
    if (m_form) {
        if (!m_form->finish())
            m_problem = badForm(m_form->error());
        else if (!m_sawFile)
            m_problem = badForm(QStringLiteral("The form has no 'file' field. Send the file in "
                                               "it: curl -F file=@people.csv ..."));
    } else if (m_options.gzipEncoded && m_contentBytes > 0 && m_head.size() < 2) {
        m_problem = badForm(QStringLiteral("The body is sent with 'Content-Encoding: gzip' but "
                                           "is not gzip data."));
    }
    return true; // the route answers problems, as every other answer
}

void UploadBody::abort()
{
    m_writer.reset(); // removes the partial file
    m_quota.release();
}

std::optional<Http::Response> UploadBody::refusal()
{
    return m_refusal;
}

QString UploadBody::contentSha256() const
{
    return m_hash ? QString::fromLatin1(m_hash->result().toHex()) : QString();
}

QString UploadBody::contentId() const
{
    return m_writer ? m_writer->contentId() : contentSha256();
}

Result<BlobInfo> UploadBody::commit()
{
    if (!m_writer)
        return makeError(ErrorCode::Internal,
                         QStringLiteral("The upload has no content to store."));
    auto committed = m_writer->commit();
    m_writer.reset();
    return committed;
}

bool UploadBody::partBegin(const MultipartReader::Part &part)
{
    if (part.name == "file") {
        if (m_sawFile) {
            return refuse(badForm(QStringLiteral("The form has two 'file' fields; send one file "
                                                 "per upload.")));
        }
        if (!part.hasFileName) {
            // curl -F file=people.csv sends the text "people.csv", not the file.
            return refuse(Api::error(
                400, "Bad request",
                QStringLiteral("The form's 'file' field is text, not a file: did you forget the "
                               "@? Send the file with curl -F file=@people.csv (a file part has "
                               "a filename in its Content-Disposition)."),
                "file_field_not_a_file"));
        }
        m_sawFile = true;
        m_inFile = true;
        m_fileName = part.fileName;
        m_fileContentType = part.contentType;
        return true;
    }
    // Any other part is a field, even sent as a file (curl -F mapping=@mapping.json).
    m_fieldName = part.name;
    m_fieldValue.clear();
    return true;
}

bool UploadBody::partData(QByteArrayView data)
{
    if (m_inFile)
        return store(data);
    m_fieldsBytes += data.size();
    if (m_fieldValue.size() + data.size() > m_options.maxFieldBytes ||
        m_fieldsBytes > m_options.maxFieldsBytes) {
        return refuse(badForm(QStringLiteral("The form field '%1' is too large: fields other "
                                             "than the file take at most %2 KiB each, %3 KiB in "
                                             "all.")
                                  .arg(QString::fromUtf8(m_fieldName.left(64)))
                                  .arg(m_options.maxFieldBytes / 1024)
                                  .arg(m_options.maxFieldsBytes / 1024)));
    }
    m_fieldValue.append(data);
    return true;
}

bool UploadBody::partEnd()
{
    if (m_inFile) {
        m_inFile = false;
        return true;
    }
    m_fields.append({QString::fromUtf8(m_fieldName), QString::fromUtf8(m_fieldValue)});
    m_fieldValue.clear();
    if (m_options.checkField) {
        if (auto bad = m_options.checkField(m_fields.last().first, m_fields.last().second))
            return refuse(std::move(*bad));
    }
    return true;
}

} // namespace Ferry
