import os
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from sentiment_model import SentimentModel, load_lexicon  # noqa: E402

LABELLED = [
    ("I love this product, it is absolutely wonderful!", "positive"),
    ("The support team was friendly and helpful.", "positive"),
    ("Great performance and very reliable.", "positive"),
    ("Not bad at all, I would recommend it.", "positive"),
    ("This is the worst service I have ever used.", "negative"),
    ("The app keeps crashing and the support is useless.", "negative"),
    ("I am not happy with the delivery.", "negative"),
    ("It was slow, buggy and overpriced.", "negative"),
    ("The meeting is at three o'clock in room four.", "neutral"),
    ("The package contains a cable and a manual.", "neutral"),
    ("", "neutral"),
]


class SentimentModelTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.model = SentimentModel()

    def test_labelled_sentences(self):
        for text, expected in LABELLED:
            with self.subTest(text=text):
                self.assertEqual(self.model.analyse(text)["label"], expected)

    def test_lexicon_is_substantial_and_in_range(self):
        lexicon = load_lexicon()
        self.assertGreaterEqual(len(lexicon), 400)
        self.assertTrue(all(-4.0 <= v <= 4.0 for v in lexicon.values()))

    def test_negation_flips_polarity(self):
        self.assertGreater(self.model.analyse("the food was good")["score"], 0)
        self.assertLess(self.model.analyse("the food was not good")["score"], 0)
        self.assertLess(self.model.analyse("the food wasn't good")["score"], 0)
        self.assertGreater(self.model.analyse("the food was never bad")["score"], 0)

    def test_boosters_and_dampeners(self):
        plain = self.model.analyse("the film was good")["score"]
        boosted = self.model.analyse("the film was extremely good")["score"]
        damped = self.model.analyse("the film was slightly good")["score"]
        self.assertGreater(boosted, plain)
        self.assertLess(damped, plain)

    def test_caps_and_exclamations_amplify(self):
        plain = self.model.analyse("this is great")["score"]
        self.assertGreater(self.model.analyse("this is GREAT")["score"], plain)
        self.assertGreater(self.model.analyse("this is great!!!")["score"], plain)

    def test_but_weights_the_second_clause(self):
        self.assertEqual(self.model.analyse("the screen is nice but the battery is terrible")["label"], "negative")
        self.assertEqual(self.model.analyse("the battery is poor but the screen is excellent")["label"], "positive")

    def test_score_is_bounded_and_proportions_sum_to_one(self):
        result = self.model.analyse("amazing wonderful fantastic superb excellent perfect love " * 20)
        self.assertLessEqual(result["score"], 1.0)
        self.assertGreater(result["score"], 0.99)
        total = result["positive"] + result["negative"] + result["neutral"]
        self.assertAlmostEqual(total, 1.0, places=2)

    def test_bad_lexicon_line_is_reported_with_line_number(self):
        with tempfile.NamedTemporaryFile("w", suffix=".txt", delete=False) as handle:
            handle.write("# comment\ngood\t1.9\nbroken line here\n")
        try:
            with self.assertRaisesRegex(ValueError, r":3: expected"):
                load_lexicon(handle.name)
        finally:
            os.unlink(handle.name)


if __name__ == "__main__":
    unittest.main()
