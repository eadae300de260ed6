/* The gallery's checkboxes with the admin's action bar: the admin's own actions.js only binds
   to table rows. Selecting every card of the page offers, as the list does, every matching file. */
'use strict';
{
  function ready(fn) {
    if (document.readyState !== 'loading') {
      fn();
    } else {
      document.addEventListener('DOMContentLoaded', fn);
    }
  }

  ready(function() {
    const gallery = document.getElementById('gallery');
    const toggle = document.getElementById('gallery-toggle');
    if (!gallery || !toggle) {
      return;
    }
    const boxes = Array.from(gallery.querySelectorAll('input.action-select'));
    const counter = document.querySelector('div.actions span.action-counter');
    const question = document.querySelectorAll('div.actions span.question');
    const clear = document.querySelectorAll('div.actions span.clear');
    const all = document.querySelectorAll('div.actions span.all');
    const across = document.querySelectorAll('div.actions input.select-across');
    const show = (els, on) => els.forEach((el) => el.classList.toggle('hidden', !on));

    function setAcross(on) {
      across.forEach((input) => { input.value = on ? 1 : 0; });
      show(clear, on);
      show(all, on);
      if (counter) {
        counter.classList.toggle('hidden', on);
      }
    }

    function update() {
      const selected = boxes.filter((box) => box.checked).length;
      boxes.forEach((box) => box.closest('.card').classList.toggle('selected', box.checked));
      toggle.checked = selected > 0 && selected === boxes.length;
      if (counter) {
        counter.textContent = interpolate(
          ngettext('%(sel)s of %(cnt)s selected', '%(sel)s of %(cnt)s selected', selected),
          {sel: selected, cnt: boxes.length}, true);
      }
      setAcross(false);
      show(question, toggle.checked);
    }

    toggle.addEventListener('change', function() {
      boxes.forEach((box) => { box.checked = toggle.checked; });
      update();
    });
    gallery.addEventListener('change', function(event) {
      if (event.target.classList.contains('action-select')) {
        update();
      }
    });
    question.forEach((el) => el.querySelector('a').addEventListener('click', function(event) {
      event.preventDefault();
      show(question, false);
      setAcross(true);
    }));
    clear.forEach((el) => el.querySelector('a').addEventListener('click', function(event) {
      event.preventDefault();
      boxes.forEach((box) => { box.checked = false; });
      update();
    }));
    // The browser may restore the boxes when coming back to the page.
    window.addEventListener('pageshow', update);
  });
}
