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




def test_lone_surrogates_are_one_utf16_unit_in_the_document():
    from model.structure import StructuredDocument

    doc = StructuredDocument("\ud800x = 1\n\ud83d\ude00y\n", "python")  # a lone high surrogate; a pair written as two
    assert doc.offset_at(0, 1) == 3                  # after the surrogate, not before it
    assert doc.position_at(3) == (0, 1)
    assert doc.offset_at(1, 2) == 9 + 6              # after two lone surrogates (3 bytes each)
    doc.apply_change("Z", (0, 1), (0, 2))
    assert doc.text == "\ud800Z = 1\n\ud83d\ude00y\n"
    snap = doc.snapshot()                            # what tokenizers and encoders read
    assert snap.text == "\ufffdZ = 1\n\ufffd\ufffdy\n" and snap.offset_at(1, 2) == doc.offset_at(1, 2)


def test_uris_are_normalised_to_one_spelling():
    from r1lsp.protocol import normalize_uri

    assert normalize_uri("file:///w/%41b.java") == normalize_uri("file:///w/Ab.java") == "file:///w/Ab.java"
    assert normalize_uri("FILE://localhost/w/a%2fb.py") == "file:///w/a%2Fb.py"   # reserved escapes stay escaped
    assert normalize_uri("file:///c%3A/x.java") == "file:///c%3A/x.java"
    assert normalize_uri("untitled:Untitled-1") == "untitled:Untitled-1"


def test_surrogates_that_meet_by_an_edit_are_one_character():
    from model.structure import StructuredDocument

    doc = StructuredDocument("a\ud83d\nb", "python")
    doc.apply_change("\ude00", (0, 2), (0, 2))      # the low half typed after the high half
    assert doc.text == "a\U0001F600\nb" and doc.offset_at(0, 3) == 5
