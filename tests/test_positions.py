from r1lsp.positions import UTF8, UTF16, UTF32, convert_column

LINE = "a\u00e9\U0001F600b"  # a é 😀 b : utf-8 units 1,2,4,1; utf-16 1,1,2,1; utf-32 1,1,1,1


def test_convert_column_between_encodings():
    assert convert_column(LINE, 3, UTF32, UTF16) == 4  # before 'b'
    assert convert_column(LINE, 4, UTF16, UTF32) == 3
    assert convert_column(LINE, 7, UTF8, UTF16) == 4
    assert convert_column(LINE, 4, UTF16, UTF8) == 7
    assert convert_column(LINE, 2, UTF16, UTF16) == 2


def test_column_past_end_clamps_to_line_end():
    assert convert_column(LINE, 99, UTF32, UTF16) == 5
    assert convert_column(LINE, 99, UTF16, UTF8) == 8


def test_column_inside_a_character_rounds_down():
    assert convert_column(LINE, 3, UTF16, UTF32) == 2  # the middle of the emoji's surrogate pair


