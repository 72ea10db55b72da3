import pytest
from nigehbaan.inference.langid import identify
from nigehbaan.inference.normalize import normalize


@pytest.mark.parametrize(
    "text, lang",
    [
        ("Urgent hiring for a reputed company in Dubai. Send your CV on WhatsApp.", "en"),
        ("Dubai ke liye drivers ki zaroorat hai, tankhwa achi hai, foran rabta karein", "ur-Latn"),
        ("دبئی کے لیے ڈرائیوروں کی ضرورت ہے، فوری رابطہ کریں", "ur"),
        ("دبئی کے لیے drivers needed, salary 2000 AED, فوری رابطہ کریں please apply now", "mixed"),
        ("Salary achi hai. We need experienced drivers for our company. Jaldi rabta karein aur apply karein", "mixed"),
        ("0300 1234567", "und"),
    ],
)
def test_language_classes(text, lang):
    assert identify(normalize(text).text) == lang
