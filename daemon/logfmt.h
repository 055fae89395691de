#pragma once
// emberd logs logfmt lines (level=info msg="..." key=value) that journald and log shippers can
// split into fields. Values that come from outside (file names, errors, process names) go
// through lf(), so that no value can forge a field or a line.

#include <string>
#include <string_view>

namespace ember::daemon {

// A logfmt value: bare when it is a plain word, else double-quoted with \" \\ \n escaped and
// control characters written as \xNN.
std::string lf(std::string_view value);

}  // namespace ember::daemon
