#include "uploads/uploadgate.h"

namespace Ferry {

UploadGate::UploadGate(BlobStore &blobs, UploadQuota *quota, qint64 maxBytes)
    : m_blobs(blobs), m_quota(quota), m_maxBytes(maxBytes)
{}

std::optional<QString> UploadGate::tooLarge(qint64 bytes) const
{
    if (bytes <= m_maxBytes)
        return std::nullopt;
    return QStringLiteral("The upload announces %1 bytes; this server takes at most %2 bytes "
                          "(%3 MB, --max-upload-mb). Split the file or compress it.")
        .arg(bytes)
        .arg(m_maxBytes)
        .arg(m_maxBytes >> 20);
}

Result<UploadAdmission> UploadGate::checkLimits(qint64 bytes) const
{
    UploadAdmission admission;
    if (auto message = tooLarge(bytes)) {
        admission.refused = UploadAdmission::Refusal::TooLarge;
        admission.message = *message;
        return admission;
    }
    if (auto room = m_blobs.checkSpace(std::max<qint64>(0, bytes)); !room)
        return room.error();
    admission.quota.granted = true;
    return admission;
}

Result<UploadAdmission> UploadGate::admit(qint64 userId, qint64 bytes, const QString &tusUploadId)
{
    auto admission = checkLimits(bytes);
    if (!admission || !admission->admitted() || !m_quota)
        return admission;
    auto decision =
        tusUploadId.isEmpty()
            ? m_quota->reserve(userId, std::max<qint64>(0, bytes))
            : m_quota->reserveForUpload(userId, std::max<qint64>(0, bytes), tusUploadId);
    if (!decision)
        return decision.error();
    admission->quota = *decision;
    if (!decision->granted)
        admission->refused = UploadAdmission::Refusal::Quota;
    return admission;
}

} // namespace Ferry
