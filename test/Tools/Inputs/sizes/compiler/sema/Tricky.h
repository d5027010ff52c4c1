#ifndef TRICKY_H
#define TRICKY_H
class Checker {
  int x = 0;
public:
  int inlineMember(int a) {
    return a + x;
  }
};
#endif
