"""Web forms. They check the shape of input; services.py checks the domain rules and writes."""

from __future__ import annotations

import uuid

from django import forms
from django.contrib.auth import get_user_model
from django.contrib.auth.forms import UserCreationForm

from . import vocab
from .models import Camera, Sighting, Vote


class SignupForm(UserCreationForm):
    email = forms.EmailField(
        help_text="Only used for password resets. It is never shown to anyone.",
    )

    class Meta(UserCreationForm.Meta):
        model = get_user_model()
        fields = ("username", "email")
        help_texts = {"username": "For logging in. Others see a random handle instead, never this name."}

    def clean_email(self) -> str:
        email = self.cleaned_data["email"].strip().lower()
        if get_user_model().objects.filter(email__iexact=email).exists():
            raise forms.ValidationError("An account with this email already exists. Try resetting your password.")
        return email


class VocabularySelect(forms.Select):
    """A select whose options carry the one-line help text, shown under the field by our JS."""

    def __init__(self, vocabulary: vocab.Vocabulary, attrs: dict | None = None) -> None:
        super().__init__(attrs)
        self.vocabulary = vocabulary

    def create_option(self, name, value, label, selected, index, subindex=None, attrs=None):
        option = super().create_option(name, value, label, selected, index, subindex, attrs)
        option["attrs"]["data-help"] = self.vocabulary.help.get(str(value), "")
        option["attrs"]["title"] = option["attrs"]["data-help"]
        return option


class SightingForm(forms.ModelForm):
    """The sighting form. Position comes from the map picker, which fills `lat`/`lon`."""

    client_id = forms.CharField(widget=forms.HiddenInput, max_length=64, required=False)
    # Checked and re-encoded by the service (mapapp.photos); a plain file field avoids decoding twice.
    photo = forms.FileField(
        required=False,
        widget=forms.ClearableFileInput(attrs={"accept": "image/jpeg,image/png,image/webp"}),
        help_text="Optional. Location data and other metadata are removed before it is stored.",
    )

    class Meta:
        model = Sighting
        fields = ("lat", "lon", "accuracy_m", *Sighting.ATTRIBUTE_FIELDS, "observed_at", "notes")
        widgets = {
            "lat": forms.NumberInput(attrs={"step": "any"}),
            "lon": forms.NumberInput(attrs={"step": "any"}),
            "accuracy_m": forms.NumberInput(attrs={"step": "any", "min": 0}),
            "direction": forms.NumberInput(attrs={"min": 0, "max": 359}),
            "height": forms.NumberInput(attrs={"step": "any", "min": 0}),
            "camera_angle": forms.NumberInput(attrs={"step": "any", "min": 0, "max": 90}),
            "observed_at": forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
            "notes": forms.Textarea(attrs={"rows": 3, "maxlength": 2000}),
        }
        help_texts = {
            "notes": "Anything that helps others find it. Please do not describe people.",
            "operator": "Who runs it, if a sign says so (e.g. a shop's name or 'City Police').",
        }

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)
        for name, vocabulary in vocab.BY_FIELD.items():
            widget = VocabularySelect(vocabulary, attrs={"class": "vocab"})
            widget.choices = self.fields[name].choices
            self.fields[name].widget = widget
            self.fields[name].help_text = vocabulary.help.get(vocabulary.default, "")
        self.fields["lat"].help_text = "Click the map to set the position, or type it."
        observed = self.fields["observed_at"]
        observed.required = False
        observed.label = "When did you see it?"
        observed.help_text = "Leave empty if it was just now."
        if not self.is_bound:
            self.initial.setdefault("client_id", uuid.uuid4().hex)
            # Blank, not the server's clock: the server's time zone is not the volunteer's.
            self.initial["observed_at"] = None

    def sighting_data(self) -> dict[str, object]:
        """The cleaned fields in the form the service takes."""
        data = {name: self.cleaned_data.get(name) for name in self._meta.fields}
        if data.get("observed_at") is None:
            data.pop("observed_at")
        return data


# --- Verification and moderation --------------------------------------------------------------------


def _no_change(name: str) -> list[tuple[str, str]]:
    return [("", "No change"), *Camera._meta.get_field(name).choices]


class VoteForm(forms.Form):
    """A verdict on a camera, with optional corrections (services.vote_cast checks the rules)."""

    verdict = forms.ChoiceField(choices=Vote.Verdict.choices, widget=forms.RadioSelect)
    camera_type = forms.ChoiceField(choices=_no_change("camera_type"), required=False, label="Type is actually")
    camera_mount = forms.ChoiceField(choices=_no_change("camera_mount"), required=False, label="Mounted on")
    direction = forms.IntegerField(
        min_value=0, max_value=359, required=False, label="Facing (degrees from north)", widget=forms.NumberInput
    )
    operator = forms.CharField(max_length=200, required=False, label="Operator")

    def corrections(self) -> dict[str, object]:
        """Only what the volunteer filled in; blanks mean "no change"."""
        return {name: self.cleaned_data.get(name) for name in ("camera_type", "camera_mount", "direction", "operator")}


class FlagForm(forms.Form):
    reason = forms.CharField(
        max_length=1000,
        widget=forms.Textarea(attrs={"rows": 2, "maxlength": 1000}),
        help_text="What should a moderator look at? Please do not describe people.",
    )


class CommentForm(forms.Form):
    body = forms.CharField(
        max_length=2000, label="Your comment", widget=forms.Textarea(attrs={"rows": 3, "maxlength": 2000})
    )


MODERATION_ACTIONS = (
    ("sighting_hide", "Hide the sighting"),
    ("sighting_unhide", "Show the sighting again"),
    ("photo_hide", "Hide the photo"),
    ("photo_unhide", "Show the photo again"),
    ("volunteer_ban", "Ban the sighting's reporter"),
    ("volunteer_unban", "Lift the ban on the sighting's reporter"),
    ("expert_verdict", "Set a moderator's verdict on the camera"),
    ("flag_resolve", "Resolve the flag"),
    ("comment_hide", "Hide the comment"),
    ("comment_unhide", "Show the comment again"),
)


class ModerationActionForm(forms.Form):
    """One moderator action. `target` is a sighting, camera, flag or comment id, by action; a ban
    names a sighting, and the view looks up its reporter, so the page never shows who that is."""

    action = forms.ChoiceField(choices=MODERATION_ACTIONS)
    target = forms.IntegerField(min_value=1)
    reason = forms.CharField(max_length=1000, widget=forms.TextInput(attrs={"maxlength": 1000}))
    status = forms.ChoiceField(choices=[("", "Withdraw the verdict"), *Camera.Status.choices], required=False)
    next = forms.CharField(required=False, widget=forms.HiddenInput)
