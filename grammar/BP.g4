// BP.g4 - the grammar of BP source files (docs: shared/spec/LANGUAGE.md).
//
// Newline handling is not done here: compiler/parse/Parser.cpp filters the
// token stream before parsing. It drops NEWLINE tokens inside ( ) and [ ],
// after a token that continues a line (binary operator, ',', '=', '{', ...)
// and before 'else' and the '}' of an if-expression branch; it collapses
// runs of NEWLINEs and makes sure that a NEWLINE (or ';') ends the last
// statement of a block and the last item of the file. So the rules below see
// NEWLINE exactly where a statement or item ends.
//
// Expression precedence, highest first (ANTLR: earlier alternative binds
// tighter): call/index, '^' (right), unary '-' '+', '* / % @', '+ -',
// comparisons, 'not', 'and', 'or'. Prefix operators may start any operand, so
// `2^-1` is `2^(-1)` and `-x^2` is `-(x^2)`.
grammar BP;

// STMT_IF is an `if` at the start of a statement: the token filter retypes it
// (it knows which `{` opens a block and which an if-expression branch), so
// the if-statement and an expression statement starting with an
// if-expression never compete and every choice below takes one token.
tokens { STMT_IF }

// Every item and statement ends with NEWLINE or ';': the token filter puts a
// NEWLINE before the '}' of a block and before the end of the file where
// there is none. So each loop below chooses on one token (no statement can
// be mistaken for the continuation of the one before, `x\n-1` included), and
// error recovery resynchronises at the next separator, so that every syntax
// error of a file is reported.
program : (item sep | sep)* EOF ;

sep : NEWLINE | ';' ;

// `import "layers.bp"` (LANGUAGE.md section 22) is an item so that it ends
// like one; the AST builder keeps the imports apart and requires them before
// every other item.
item
  : 'import' path=STRING                                        # importItem
  | 'const' name=ID '=' expr                                    # constItem
  | 'param' name=ID ':' type ('=' expr)?                        # paramItem
  | 'fn' name=ID (fnSignature block | '=' expr)                 # fnItem
  | kw=('adjoint' | 'tangent') name=ID fnSignature block        # ruleItem
  | 'train' '{' (trainField trainSep | trainSep)* '}'          # trainItem
  ;

// `adjoint f(...)` and `tangent f(...)` (LANGUAGE.md section 15) are
// functions with f's name and a rule kind; sema checks their signatures.
// `fn df = grad(f, x)` is an fnItem with an expr and no signature (a derived
// function); the two share one alternative so that errors after `fn name`
// are reported where they happen.
fnSignature : '(' (fnParam (',' fnParam)* ','?)? ')' ('->' type)? ;

fnParam : ID ':' type ;

trainField : ID ':' expr ;
trainSep : NEWLINE | ';' | ',' ;

// `fn(T1, ..., Tn) -> R` (LANGUAGE.md section 21) is only meaningful as a
// function's parameter type; sema says so elsewhere.
type
  : ID ('[' dim (',' dim)* ']')?                                # namedType
  | '(' type (',' type)+ ','? ')'                               # tupleType
  | 'fn' '(' (type (',' type)* ','?)? ')' ('->' result=type)?   # fnType
  ;

dim : INT | ID ;

block : '{' (stmt sep | sep)* '}' ;

// Alternatives that share a prefix are merged (let/destructure, expression/
// assignment) so that each choice is made on one token and a syntax error
// is reported at the token where it happens, with what was expected there.
stmt
  : kw=('let' | 'var') (ID (':' type)? | '(' ID (',' ID)+ ','? ')') '=' expr
                                                                # letStmt
  | STMT_IF expr block elseClause*                               # ifStmt
  | 'for' ID 'in' expr '..' expr block                          # forStmt
  | 'while' expr block                                          # whileStmt
  | 'return' expr?                                              # returnStmt
  | expr (op=('=' | '+=' | '-=' | '*=' | '/=') expr)?           # exprStmt
  ;

// The AST builder checks that a plain `else` block comes last.
elseClause : 'else' ('if' expr block | block) ;

expr
  : expr '(' (expr (',' expr)* ','?)? ')'                       # callExpr
  | expr '[' indexArg (',' indexArg)* ','? ']'                  # indexExpr
  | <assoc=right> expr op='^' expr                              # binaryExpr
  | op=('-' | '+') expr                                         # unaryExpr
  | expr op=('*' | '/' | '%' | '@') expr                        # binaryExpr
  | expr op=('+' | '-') expr                                    # binaryExpr
  | expr op=('==' | '!=' | '<' | '<=' | '>' | '>=') expr        # binaryExpr
  | op='not' expr                                               # unaryExpr
  | expr op='and' expr                                          # binaryExpr
  | expr op='or' expr                                           # binaryExpr
  | primary                                                     # primaryExpr
  ;

// A slice when `colon` is set.
indexArg
  : lo=expr (colon=':' hi=expr?)?
  | colon=':' hi=expr?
  ;

// `(e)` is a parenthesised expression, `(a, b)` a tuple. In
// `if c { e1 } else { e2 }` the else branch is optional here so that the AST
// builder can say that it is missing.
primary
  : INT                                                         # intLit
  | FLOAT                                                       # floatLit
  | STRING                                                      # stringLit
  | ('true' | 'false')                                          # boolLit
  | ID                                                          # nameRef
  | '(' expr (',' expr)* trailing=','? ')'                      # parenExpr
  | '[' (expr (',' expr)* ','?)? ']'                            # tensorLit
  | 'if' expr '{' expr '}' elseExprClause*                      # ifExpr
  ;

elseExprClause : 'else' ('if' expr '{' expr '}' | '{' expr '}') ;

// Keywords come before ID: on equal length the first rule wins.
FN : 'fn' ;
LET : 'let' ;
VAR : 'var' ;
PARAM : 'param' ;
CONST : 'const' ;
IMPORT : 'import' ;
RETURN : 'return' ;
IF : 'if' ;
ELSE : 'else' ;
FOR : 'for' ;
IN : 'in' ;
WHILE : 'while' ;
TRAIN : 'train' ;
ADJOINT : 'adjoint' ;
TANGENT : 'tangent' ;
TRUE : 'true' ;
FALSE : 'false' ;
AND : 'and' ;
OR : 'or' ;
NOT : 'not' ;

LPAREN : '(' ;
RPAREN : ')' ;
LBRACK : '[' ;
RBRACK : ']' ;
LBRACE : '{' ;
RBRACE : '}' ;
COMMA : ',' ;
SEMI : ';' ;
COLON : ':' ;
DOTDOT : '..' ;
ARROW : '->' ;
ASSIGN : '=' ;
ADD_ASSIGN : '+=' ;
SUB_ASSIGN : '-=' ;
MUL_ASSIGN : '*=' ;
DIV_ASSIGN : '/=' ;
EQ : '==' ;
NE : '!=' ;
LE : '<=' ;
GE : '>=' ;
LT : '<' ;
GT : '>' ;
PLUS : '+' ;
MINUS : '-' ;
STAR : '*' ;
SLASH : '/' ;
PERCENT : '%' ;
AT : '@' ;
CARET : '^' ;

// `3.` is not a number (so that `0..n` lexes as 0 .. n); `.5` is.
FLOAT
  : DIGITS '.' DIGITS EXPONENT?
  | '.' DIGITS EXPONENT?
  | DIGITS EXPONENT
  ;
INT : DIGITS ;
fragment DIGITS : [0-9]+ ;
fragment EXPONENT : [eE] [+-]? DIGITS ;

ID : [A-Za-z_] [A-Za-z0-9_]* ;

// Escapes are checked and resolved by the AST builder.
STRING : '"' (~["\\\r\n] | '\\' ~[\r\n])* '"' ;
UNTERMINATED_STRING : '"' (~["\\\r\n] | '\\' ~[\r\n])* '\\'? ;

NEWLINE : '\r'? '\n' ;
WS : [ \t\r\f]+ -> skip ;
COMMENT : '#' ~[\r\n]* -> skip ;

// Anything else becomes one token so that the parser wrapper reports it as
// "unexpected character" instead of ANTLR's token recognition error.
ERROR_CHAR : . ;
