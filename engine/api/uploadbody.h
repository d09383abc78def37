#pragma once

#include "api/multipartreader.h"
#include "api/quotahold.h"
#include "core/sha256.h"
#include "http/httphandler.h"
#include "storage/blobstore.h"

#include <functional>
#include <memory>

namespace Ferry {

// The body of POST /api/v1/uploads as it arrives, on the network thread: a raw body is the file;
// a multipart/form-data body is parsed as it streams, its `file` part going the same way and its
// other (small) fields collected. The file's bytes go into a BlobWriter (a new upload), or are
// only hashed (a request that reuses an Idempotency-Key: its hash decides the answer). Holds the
// upload's quota reservation; a body that does not complete (client gone, refused) removes what
// it wrote and gives the reservation back.
class UploadBody final : public Http::BodyConsumer, private MultipartReader::Sink
{
public:
    struct Options
    {
        QByteArray boundary;      // non-empty: multipart/form-data
        bool gzipEncoded = false; // a raw body with Content-Encoding: gzip (checked: 1f 8b)
        qsizetype maxFieldBytes = 64 * 1024;
        qsizetype maxFieldsBytes = 256 * 1024;
        // Checks a form field as soon as it is complete: an answer refuses the rest of the body
        // (a bad field before a large file is answered without reading the file).
        std::function<std::optional<Http::Response>(const QString &name, const QString &value)>
            checkField;
    };

    // writer null: the content is only hashed.
    UploadBody(Options options, std::unique_ptr<BlobWriter> writer, QuotaHold quota);
    ~UploadBody() override;
    Q_DISABLE_COPY_MOVE(UploadBody)

    bool write(QByteArrayView data) override;
    bool finish() override;
    void abort() override;
    std::optional<Http::Response> refusal() override;
    std::optional<QFuture<void>> readyForMore() override
    {
        return m_writer ? m_writer->readyForMore() : std::nullopt;
    }

    // After finish(), in the route's handle():
    // What was wrong with a body that arrived whole (a truncated form, no file): its answer.
    const std::optional<Http::Response> &problem() const { return m_problem; }
    // The form's fields other than the file, in order (empty for a raw body).
    const QList<std::pair<QString, QString>> &fields() const { return m_fields; }
    const QString &fileName() const { return m_fileName; }
    const QByteArray &fileContentType() const { return m_fileContentType; }
    qint64 contentBytes() const { return m_contentBytes; }
    // Whether the content (as sent: gzip content is not looked into) has a line break.
    bool contentHasLineBreak() const { return m_sawLineBreak; }
    // Whether the content starts as gzip data does (1f 8b), whatever its headers said.
    bool contentIsGzip() const { return m_head == QByteArrayView("\x1f\x8b", 2); }
    // Hex SHA-256 of the content, when it was only hashed.
    QString contentSha256() const;
    // The blob id the stored content will have (its SHA-256), before commit().
    QString contentId() const;
    // Puts a new upload's content in place (fsync and rename: not on the network thread).
    Result<BlobInfo> commit();
    QuotaHold &quota() { return m_quota; }

private:
    bool store(QByteArrayView data);
    bool refuse(Http::Response response);

    bool partBegin(const MultipartReader::Part &part) override;
    bool partData(QByteArrayView data) override;
    bool partEnd() override;

    Options m_options;
    std::unique_ptr<BlobWriter> m_writer;
    std::unique_ptr<Sha256> m_hash; // when there is no writer
    QuotaHold m_quota;
    std::unique_ptr<MultipartReader> m_form;
    std::optional<Http::Response> m_refusal;
    std::optional<Http::Response> m_problem;
    qint64 m_contentBytes = 0;
    bool m_sawLineBreak = false;
    QByteArray m_head; // the content's first two bytes (gzip's magic or not)

    // Multipart state.
    bool m_inFile = false;
    bool m_sawFile = false;
    QString m_fileName;
    QByteArray m_fileContentType;
    QByteArray m_fieldName;
    QByteArray m_fieldValue;
    qsizetype m_fieldsBytes = 0;
    QList<std::pair<QString, QString>> m_fields;
};

} // namespace Ferry
