// Braces in comments { and strings must not count.
#include <string>
#define OPEN {
#define MULTI(x) \
  { x }
extern "C" {
int cFunction(int a) {
  return a + 1;
}
}
namespace bp {
namespace {
struct Local {
  int value{0};
  Local() : value{3} {
    value += 1;
  }
  int get() const {
    return value;
  }
  struct Inner {
    void deep() {}
  };
public:
  bool operator()(int x) const {
    return x > value;
  }
};
enum class Color { Red, Green };
const int Table[] = {1, 2, 3};
auto lambdaAtScope = [](int x) {
  return x * 2;
};
} // namespace

template <typename T>
T twice(T x) {
  return x + x;
}

/* a block comment } with a brace */
std::string Checker::tricky(const std::string &s) {
  std::string a = "}}}{";
  char c = '{';
  char d = '\'';
  std::string r = R"x(raw } string { )x";
  int n = 1'000;
  if (s.empty()) {
    return "{";
  }
  for (int i = 0; i < n; ++i) {
    if (c == '}') {
      a += d;
    }
  }
  auto f = [&](int k) {
    struct Nested {
      int g() { return 1; }
    };
    return k;
  };
  return a + r + std::to_string(f(n));
}
} // namespace bp
