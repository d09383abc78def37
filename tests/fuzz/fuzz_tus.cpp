// tus headers (engine/uploads/tusuploads, as engine/api/tusroutes uses them): Upload-Metadata
// and upload ids as clients send them, and the metadata's values checked as an upload's
// parameters (UploadParams, what tusroutes' checkMetadata does). Properties: accepted metadata
// has valid, unique keys and writes back (key base64, ...) to the same object; a refusal names
// Upload-Metadata; an upload id is exactly 32 lowercase hex digits.

#include "fuzzinput.h"

#include "api/uploadparams.h"
#include "uploads/tusuploads.h"

#include <QRegularExpression>

using namespace Ferry;
using namespace Ferry::Fuzz;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    Input in(data, size);
    const QByteArray header = in.restBytes();

    static const QRegularExpression id(QStringLiteral("^[0-9a-f]{32}$"));
    const bool isId = TusUploads::isUploadId(header);
    FUZZ_CHECK(isId == id.match(QString::fromLatin1(header)).hasMatch(),
               "isUploadId disagrees with 32 lowercase hex digits");

    const Result<QJsonObject> metadata = TusUploads::parseMetadata(header);
    if (!metadata) {
        FUZZ_CHECK(metadata.error().message.contains(QLatin1String("Upload-Metadata")),
                   "a refused Upload-Metadata does not say so");
        return 0;
    }
    static const QRegularExpression key(QStringLiteral("^[A-Za-z0-9_.\\-]{1,64}$"));
    QByteArray written;
    for (auto it = metadata->begin(); it != metadata->end(); ++it) {
        FUZZ_CHECK(key.match(it.key()).hasMatch(), "an accepted metadata key is not a valid key");
        FUZZ_CHECK(it.value().isString(), "a metadata value is not text");
        if (!written.isEmpty())
            written += ',';
        written += it.key().toLatin1() + ' ' + it.value().toString().toUtf8().toBase64();
    }
    const Result<QJsonObject> again = TusUploads::parseMetadata(written);
    FUZZ_CHECK(again && *again == *metadata, "metadata does not read back from its own header");

    // The values as an upload's parameters: a refusal is a 400 that names the key.
    UploadParams params;
    for (auto it = metadata->begin(); it != metadata->end(); ++it) {
        if (!UploadParams::names().contains(it.key()) || it.value().toString().isEmpty())
            continue;
        if (auto refused = params.take(it.key(), it.value().toString(), u"metadata key")) {
            FUZZ_CHECK(refused->status == 400, "a bad metadata value is not a 400");
            FUZZ_CHECK(refused->body.contains("metadata key") ||
                           refused->body.contains(it.key().toUtf8()),
                       "a bad metadata value's refusal does not name it");
            break;
        }
    }
    return 0;
}
