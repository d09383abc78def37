#include "error.h"

namespace Ferry {

QString errorCodeName(ErrorCode code)
{
    switch (code) {
    case ErrorCode::InvalidArgument:
        return QStringLiteral("invalid_argument");
    case ErrorCode::NotFound:
        return QStringLiteral("not_found");
    case ErrorCode::Conflict:
        return QStringLiteral("conflict");
    case ErrorCode::Config:
        return QStringLiteral("invalid_config");
    case ErrorCode::Storage:
        return QStringLiteral("storage_error");
    case ErrorCode::SchemaTooNew:
        return QStringLiteral("schema_too_new");
    case ErrorCode::Unavailable:
        return QStringLiteral("unavailable");
    case ErrorCode::InsufficientStorage:
        return QStringLiteral("insufficient_storage");
    case ErrorCode::Internal:
        break;
    }
    return QStringLiteral("internal_error");
}

} // namespace Ferry
