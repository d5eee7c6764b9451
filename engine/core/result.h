#pragma once
// Result types for expected failures (bad input, broker errors, I/O): a value or an Error that
// says what was wrong and where. Exceptions are kept for start-up and config load only.

#include <string>
#include <utility>

#include <boost/outcome/result.hpp>

namespace vigil {

//! What kind of failure an Error is; metrics count them by this code.
enum class Errc {
  kInvalidInput = 1,  //!< undecodable or semantically invalid input record
  kNotFound,          //!< a referenced entity does not exist
  kRejected,          //!< valid input that the current state does not allow
  kIo,                //!< disk or file failure
  kBroker,            //!< Kafka client failure
  kConfig,            //!< bad configuration or rule file
};

const char* errc_name(Errc code);

//! An expected failure: a code and a message naming what was wrong and where.
struct Error {
  Errc code;
  std::string message;
};

inline Error make_error(Errc code, std::string message) { return Error{code, std::move(message)}; }

template <class T>
using Result = boost::outcome_v2::result<T, Error, boost::outcome_v2::policy::terminate>;

//! A Result that carries no value: success() or an Error.
using Status = Result<void>;

inline Status ok() { return boost::outcome_v2::success(); }

}  // namespace vigil
